"""CI-facing records: project-scoped API tokens, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "slc_"
# Checks and releases record their author as `token:<project slug>/<name>` in 200 characters
# (`created_by`), and a slug has up to 50: a longer name would fail every write on PostgreSQL.
TOKEN_NAME_MAX_LENGTH = 100


class Scope(models.TextChoices):
    CHECK = "check", "Create checks"
    RELEASE = "release", "Create releases"
    READ = "read", "Read status"


DEFAULT_SCOPES = [Scope.CHECK, Scope.RELEASE, Scope.READ]


def hash_token(raw: str) -> str:
    # Tokens are 32 random bytes: a fast hash is enough (no dictionary to attack), and it lets
    # every request be checked with one indexed lookup.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    project = models.ForeignKey("releases.Project", on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, blank=True)
    approve_environments = models.ManyToManyField(
        "releases.Environment",
        blank=True,
        related_name="+",
        help_text="Environments this token may approve (explicit grant).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="token_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name} ({self.prefix}…)"

    def clean(self) -> None:
        # Here, not as a validator on the field: that would be a schema migration for a rule
        # that the database need not enforce (the admin's form calls clean, issue() does too).
        if len(self.name) > TOKEN_NAME_MAX_LENGTH:
            raise ValidationError(
                {"name": f"at most {TOKEN_NAME_MAX_LENGTH} characters (this one has {len(self.name)})"}
            )

    @classmethod
    def issue(cls, project, name: str, scopes: list[str] | None = None) -> tuple[ApiToken, str]:
        """Create a token; the raw value is returned once and never stored. ValidationError for
        a name that is too long."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls(
            project=project,
            name=name,
            prefix=raw[:10],
            token_hash=hash_token(raw),
            scopes=list(scopes if scopes is not None else DEFAULT_SCOPES),
        )
        token.clean()
        token.save(force_insert=True)
        return token, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


class VcsIdentity(models.Model):
    """A user's login on the VCS provider: matches a release's author to a user (besides email)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vcs_identities")
    provider = models.CharField(max_length=20, help_text="github, gitlab, azure, bitbucket, other")
    login = models.CharField(max_length=200)

    class Meta:
        ordering = ["provider", "login"]
        verbose_name_plural = "VCS identities"
        constraints = [
            models.UniqueConstraint(fields=["provider", "login"], name="vcs_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.login} → {self.user}"
