"""`manage.py token create|revoke|list`: project API tokens from the command line.

`create` prints the raw token once, alone on stdout (so `… > token.txt` captures just it); it
is never stored, and `list` shows only the prefix. Usage errors exit 2, a control-database failure 3
(design.md §6).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, IntegrityError, transaction

from gitops.models import DEFAULT_SCOPES, TOKEN_NAME_MAX_LENGTH, ApiToken, Scope
from releases.models import AuditEvent, Project

USAGE_ERROR, SERVER_ERROR = 2, 3


class Command(BaseCommand):
    help = "Create, revoke and list project API tokens."

    def add_arguments(self, parser: ArgumentParser) -> None:
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="create|revoke|list")
        create = verbs.add_parser("create", help="issue a token and print it once")
        create.add_argument("--project", required=True, help="project slug")
        create.add_argument(
            "--name",
            required=True,
            help=f"a name unique within the project, e.g. github-ci (at most {TOKEN_NAME_MAX_LENGTH} characters)",
        )
        create.add_argument(
            "--scope",
            action="append",
            choices=Scope.values,
            dest="scopes",
            help="repeat for several (default: all of check, release, read)",
        )
        revoke = verbs.add_parser("revoke", help="revoke a token by name")
        revoke.add_argument("--project", required=True)
        revoke.add_argument("--name", required=True)
        listing = verbs.add_parser("list", help="a project's tokens (never their values)")
        listing.add_argument("--project", required=True)

    def handle(self, *args: Any, verb: str, project: str, **options: Any) -> None:
        try:
            try:
                found = Project.objects.get(slug=project)
            except Project.DoesNotExist:
                raise CommandError(f"unknown project {project!r}", returncode=USAGE_ERROR) from None
            getattr(self, f"do_{verb}")(found, **options)
        except DatabaseError as exc:  # (IntegrityError, a subclass, is a usage error: do_create says so)
            message = " ".join(str(exc).split())  # (a server's message may run over several lines)
            raise CommandError(f"the control database failed: {message}", returncode=SERVER_ERROR) from None

    def do_create(self, project: Project, *, name: str, scopes: list[str] | None, **options: Any) -> None:
        scopes = list(dict.fromkeys(scopes)) if scopes else [str(s) for s in DEFAULT_SCOPES]
        try:
            with transaction.atomic():
                token, raw = ApiToken.issue(project, name, scopes)
                _audit("create", token, {"scopes": scopes})
        except IntegrityError:
            raise CommandError(
                f"project {project.slug} already has a token named {name!r}", returncode=USAGE_ERROR
            ) from None
        except ValidationError as exc:
            raise CommandError(f"--name: {' '.join(exc.messages)}", returncode=USAGE_ERROR) from None
        self.stdout.write(raw)
        self.stderr.write(
            f"Token {name!r} for {project.slug} (scopes: {', '.join(scopes)}). Copy it now: "
            "it is not stored and won't be shown again."
        )

    def do_revoke(self, project: Project, *, name: str, **options: Any) -> None:
        token = ApiToken.objects.filter(project=project, name=name).select_related("project").first()
        if token is None:
            raise CommandError(f"project {project.slug} has no token named {name!r}", returncode=USAGE_ERROR)
        if not token.is_active:
            self.stdout.write(
                f"Token {name!r} of {project.slug} was already revoked at {token.revoked_at:%Y-%m-%d %H:%M}."
            )
            return
        with transaction.atomic():
            token.revoke()
            _audit("revoke", token, {})
        self.stdout.write(f"Revoked token {name!r} of {project.slug}.")

    def do_list(self, project: Project, **options: Any) -> None:
        tokens = list(ApiToken.objects.filter(project=project).order_by("name"))
        if not tokens:
            self.stdout.write(f"{project.slug} has no tokens.")
            return
        rows = [("NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED", "STATUS")]
        for token in tokens:
            rows.append(
                (
                    token.name,
                    f"{token.prefix}…",
                    ",".join(token.scopes),
                    f"{token.created_at:%Y-%m-%d %H:%M}",
                    f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never",
                    f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )


def _audit(verb: str, token: ApiToken, data: dict) -> None:
    AuditEvent.objects.create(
        actor=None,
        actor_label="manage.py token",
        verb=verb,
        project=token.project,
        object_type="api_token",
        object_id=str(token.pk),
        object_repr=str(token),
        data=data,
    )
