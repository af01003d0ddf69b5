from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from releases.models import AppliedMigration, Database, Environment, Project

DONE = ["applied", "baseline"]  # a `partial` history row is not applied


@login_required
def home(request: HttpRequest) -> HttpResponse:
    # Three queries whatever the size: projects, environments, databases with their counts.
    # "Newest" is the most recently applied version; without out-of-order applies that is also
    # the highest one (versions can't be compared numerically in SQL).
    newest = AppliedMigration.objects.filter(database=OuterRef("pk"), status__in=DONE).order_by(
        "-applied_at", "-id"
    )
    databases = Database.objects.annotate(
        applied_count=Count("applied", filter=Q(applied__status__in=DONE)),
        newest_version=Subquery(newest.values("version")[:1]),
        newest_applied_at=Subquery(newest.values("applied_at")[:1]),
    ).order_by("name")
    environments = Environment.objects.order_by("order", "slug").prefetch_related(
        Prefetch("databases", queryset=databases)
    )
    projects = Project.objects.prefetch_related(Prefetch("environments", queryset=environments))
    return render(request, "home.html", {"projects": projects})


@csrf_exempt  # it changes nothing; else a POST to a mistyped path gets the HTML "CSRF failed" page
def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """An unknown /api/v1/ path answers in the API's error shape, not with an HTML page."""
    return JsonResponse({"error": {
        "code": "not_found",
        "message": f"no API endpoint at {request.path} (the endpoints: /api/docs/)",
        "details": [],
    }}, status=404)
