"""`manage.py policy export NAME [--all] [--output FILE]`, `policy import FILE [--replace] [--name N]`,
`policy ensure-templates [--rows]`: review policies as YAML files (reviews/policy_io.py)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from reviews.policy_io import (
    MAX_POLICY_SIZE,
    PolicyFileError,
    dump,
    ensure_templates,
    export_policy,
    import_policy,
)

EXIT_INPUT, EXIT_SERVER = 2, 3


class Command(BaseCommand):
    help = "Export a review policy to YAML, import one from YAML, or create the shipped templates."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="write a policy as YAML")
        export.add_argument("name", help="the policy's name")
        export.add_argument("--all", action="store_true", dest="all_rules",
                            help="list every rule, not only those that differ from the default")
        export.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
        load = actions.add_parser("import", help="create or update a policy from YAML (all or nothing)")
        load.add_argument("file", help="the YAML file")
        load.add_argument("--replace", action="store_true",
                          help="remove the stored rule settings that the file does not list")
        load.add_argument("--name", default=None, help="store under this name instead of the file's")
        templates = actions.add_parser("ensure-templates", help="create the recommended and strict policies")
        templates.add_argument("--rows", action="store_true",
                               help="also write a rule setting row for each of the templates' own settings")

    def handle(self, *args, **options) -> None:
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except DatabaseError as exc:
            message = " ".join(str(exc).split())  # (a server's message may run over several lines)
            raise CommandError(f"the control database failed: {message}", returncode=EXIT_SERVER) from None

    def _export(self, options: dict) -> None:
        try:
            document = export_policy(options["name"], all_rules=options["all_rules"])
        except LookupError:
            raise CommandError(f"unknown policy {options['name']!r}", returncode=EXIT_INPUT) from None
        except ValueError as exc:  # a stored row the code no longer accepts
            raise CommandError(f"policy {options['name']!r} is invalid: {exc}", returncode=EXIT_INPUT) from None
        text = dump(document)
        if options.get("output"):
            try:
                Path(options["output"]).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"{options['output']}: {exc.strerror or exc}", returncode=EXIT_INPUT) from None
            self.stderr.write(f"policy {document['name']}: {len(document['rules'])} rule(s) written to "
                              f"{options['output']}")
        else:
            self.stdout.write(text, ending="")

    def _import(self, options: dict) -> None:
        path = Path(options["file"])
        try:
            with path.open("rb") as file:
                data = file.read(MAX_POLICY_SIZE + 1)  # (not all of a file that could fill the memory)
            if len(data) > MAX_POLICY_SIZE:
                raise CommandError(f"{path}: nothing imported: the file is larger than {MAX_POLICY_SIZE} bytes",
                                   returncode=EXIT_INPUT)
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: cannot read the file: {exc}", returncode=EXIT_INPUT) from None
        try:
            policy, created = import_policy(text, replace=options["replace"], name=options.get("name"))
        except PolicyFileError as exc:
            raise CommandError(f"{path}: nothing imported:\n{exc}", returncode=EXIT_INPUT) from None
        verb = "created" if created else "updated"
        self.stdout.write(f"policy {policy.name} {verb}: {policy.rules.count()} rule setting(s)")

    def _ensure_templates(self, options: dict) -> None:
        for policy in ensure_templates(rows=options["rows"]):
            self.stdout.write(f"policy {policy.name}: {policy.rules.count()} rule setting(s)")
