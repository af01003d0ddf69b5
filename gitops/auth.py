"""API authentication: `Authorization: Bearer <token>` with a project-scoped ApiToken.

A token is not a user. `request.user` becomes a `TokenPrincipal` (authenticated, never staff,
no Django permissions) and `request.auth` the ApiToken, so `IsAuthenticated` accepts CI and
people alike while `gitops.permissions.HasProjectScope` tells them apart.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from gitops.models import ApiToken, hash_token

LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenPrincipal:
    """The caller behind a token: enough of the user interface for DRF, templates and logs."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken):
        self.token = token
        self.username = f"token:{token.project.slug}/{token.name}"

    def __str__(self) -> str:
        return self.username

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perms: object, obj: object = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenPrincipal, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the session may still authenticate the request
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("malformed Authorization header: expected 'Bearer <token>'")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("invalid token") from None
        token = ApiToken.objects.select_related("project").filter(token_hash=hash_token(raw)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("invalid token")
        if not token.is_active:
            raise exceptions.AuthenticationFailed("token revoked")
        self._touch(token)
        return TokenPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        # Present, so that a request without credentials gets 401 rather than 403.
        return f'{self.keyword} realm="api"'

    @staticmethod
    def _touch(token: ApiToken) -> None:
        # At most one write a minute per token: a busy CI must not turn every read into a write
        # (and, on SQLite, into a wait for the write lock).
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Tells drf-spectacular how the Bearer scheme looks in the OpenAPI document."""

    target_class = "gitops.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A project API token (manage.py token create).",
        }
