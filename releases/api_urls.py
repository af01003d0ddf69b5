"""/api/v1/ routes of the release API (included from gitops/urls.py)."""

from __future__ import annotations

from django.urls import path

from releases.api import DatabaseViewSet, ReleaseViewSet, TaskViewSet

app_name = "releases-api"


urlpatterns = [
    path(
        "projects/<slug:project>/releases",
        ReleaseViewSet.as_view({"get": "list", "post": "create"}),
        name="release-list",
    ),
    path("releases/<slug:uid>", ReleaseViewSet.as_view({"get": "retrieve"}), name="release-detail"),
    path(
        "releases/<slug:uid>/stages/<slug:env>/approve",
        ReleaseViewSet.as_view({"post": "approve"}),
        name="stage-approve",
    ),
    path(
        "releases/<slug:uid>/stages/<slug:env>/reject",
        ReleaseViewSet.as_view({"post": "reject"}),
        name="stage-reject",
    ),
    path(
        "releases/<slug:uid>/stages/<slug:env>/run", ReleaseViewSet.as_view({"post": "run"}), name="stage-run"
    ),
    path(
        "releases/<slug:uid>/stages/<slug:env>/skip",
        ReleaseViewSet.as_view({"post": "skip"}),
        name="stage-skip",
    ),
    path("releases/<slug:uid>/cancel", ReleaseViewSet.as_view({"post": "cancel"}), name="release-cancel"),
    path(
        "releases/<slug:uid>/rollouts", ReleaseViewSet.as_view({"post": "redeploy"}), name="release-redeploy"
    ),
    path("tasks/<int:pk>", TaskViewSet.as_view({"get": "retrieve"}), name="task-detail"),
    path("tasks/<int:pk>/retry", TaskViewSet.as_view({"post": "retry"}), name="task-retry"),
    path("tasks/<int:pk>/skip", TaskViewSet.as_view({"post": "skip"}), name="task-skip"),
    path("databases/<int:pk>/history", DatabaseViewSet.as_view({"get": "history"}), name="database-history"),
]
