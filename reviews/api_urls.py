"""/api/v1/ routes of the review API (included from gitops/urls.py)."""

from __future__ import annotations

from django.urls import path

from reviews.api import CheckViewSet, ReviewView

app_name = "reviews-api"

urlpatterns = [
    path("review", ReviewView.as_view(), name="review"),
    path("projects/<slug:project>/checks", CheckViewSet.as_view({"post": "create"}), name="check-create"),
    path("checks/<int:pk>", CheckViewSet.as_view({"get": "retrieve"}), name="check-detail"),
]
