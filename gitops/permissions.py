"""Who may call a project's API: its tokens with the right scope, staff, and (for reading) the
project's approvers.

There is no project membership model yet: a person may read a project when they are in the
approver group of one of its environments; everything else a session does needs staff.
`_user_may` is the one place to widen once memberships exist.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from gitops.models import ApiToken, Scope
from releases.models import Environment


class HasProjectScope(BasePermission):
    """`permission_classes = [HasProjectScope("check")]`.

    A token must have the scope and belong to the project named by the URL's `project` kwarg
    (a slug) and, for object views, to the object's project (`obj.project_id`: a view whose
    object has no project of its own checks the object that owns it). DRF instantiates the
    entries of `permission_classes`; `__call__` returns this configured instance, which is shared
    by all requests and therefore keeps no per-request state (specific reasons are raised, not
    stored).
    """

    message = "this endpoint needs a token with the required scope, or a staff session"

    def __init__(self, scope: str):
        self.scope = scope

    def __call__(self) -> HasProjectScope:
        return self

    def has_permission(self, request: Request, view: APIView) -> bool:
        project = view.kwargs.get("project")
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is None:
            return _user_may(request, self.scope, {"project__slug": project} if project is not None else None)
        if self.scope not in token.scopes:
            raise PermissionDenied(f"the token lacks the '{self.scope}' scope")
        if project is not None and project != token.project.slug:
            raise PermissionDenied("the token belongs to another project")
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        project_id = getattr(obj, "project_id", None)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is None:
            return _user_may(request, self.scope, {"project_id": project_id})
        if project_id != token.project_id:
            raise PermissionDenied("the token belongs to another project")
        return True


def _user_may(request: Request, scope: str, project: dict | None) -> bool:
    """Staff may do anything; an approver of one of the project's environments may read it.

    `project` is a lookup of the project ({"project__slug": …} or {"project_id": …}), or None
    when the URL names none: reading is then decided per object, by has_object_permission
    (which DRF calls from `get_object`, so such views must look their object up with it).
    """
    user = request.user
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_staff:
        return True
    if scope != Scope.READ:
        return False
    if project is None:
        return True
    if Environment.objects.filter(**project, approver_group__in=user.groups.all()).exists():
        return True
    raise PermissionDenied(
        f"{user.get_username()} is not staff and not in the approver group of any environment of this project"
    )
