from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from releases.models import Project


def home(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.prefetch_related("environments__databases")
    return render(request, "home.html", {"projects": projects})
