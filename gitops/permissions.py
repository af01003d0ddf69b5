"""Who may call a project's API: its tokens with the right scope, and staff.

There is no project membership model yet, so the only people with access to project endpoints
are staff users (browser session); once memberships exist, `_user_may` is the one place to
widen.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from gitops.models import ApiToken


class HasProjectScope(BasePermission):
    """`permission_classes = [HasProjectScope("check")]`.

    A token must have the scope and belong to the project named by the URL's `project` kwarg
    (a slug) and, for object views, to the object's project. DRF instantiates the entries of
    `permission_classes`; `__call__` returns this configured instance, which is shared by all
    requests and therefore keeps no per-request state (specific reasons are raised, not stored).
    """

    message = "this endpoint needs a token with the required scope, or a staff session"

    def __init__(self, scope: str):
        self.scope = scope

    def __call__(self) -> HasProjectScope:
        return self

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is None:
            return _user_may(request)
        if self.scope not in token.scopes:
            raise PermissionDenied(f"the token lacks the '{self.scope}' scope")
        project = view.kwargs.get("project")
        if project is not None and project != token.project.slug:
            raise PermissionDenied("the token belongs to another project")
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is None:
            return _user_may(request)
        if getattr(obj, "project_id", None) != token.project_id:
            raise PermissionDenied("the token belongs to another project")
        return True


def _user_may(request: Request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)
