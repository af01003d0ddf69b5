from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gitops import views
from reviews import views as review_views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("reviews.api_urls")),
    path("api/v1/", include("releases.api_urls")),
    re_path(r"^api/v1(?:/(?P<rest>.*))?$", views.api_not_found),  # after every API route
    path("rules/", review_views.rule_list, name="rule-list"),
    path("rules/<str:rule_id>/", review_views.rule_detail, name="rule-detail"),
]
