"""Review policies are composed here; checks and findings are records of what CI asked."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest

from reviews.models import Check, Finding, ReviewPolicy, RuleSetting


class RuleSettingInline(admin.TabularInline):
    model = RuleSetting
    extra = 1
    fields = ["rule_id", "severity", "payload"]


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "rule_count", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [RuleSettingInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewPolicy]:
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description="Rules", ordering="rule_count")
    def rule_count(self, obj: ReviewPolicy) -> int:
        return obj.rule_count


@admin.register(RuleSetting)
class RuleSettingAdmin(admin.ModelAdmin):
    list_display = ["rule_id", "policy", "severity"]
    list_filter = ["severity", "policy"]
    search_fields = ["rule_id", "policy__name"]
    list_select_related = ["policy"]
    autocomplete_fields = ["policy"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Checks and findings are written by the review API, never by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Check)
class CheckAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "project",
        "pull_request",
        "short_sha",
        "risk",
        "blocking",
        "created_by",
        "created_at",
    ]
    list_filter = ["blocking", "risk", "provider", "project"]
    search_fields = ["repo", "pull_request", "head_sha", "created_by", "project__slug"]
    list_select_related = ["project"]
    raw_id_fields = ["project"]
    date_hierarchy = "created_at"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="Head")
    def short_sha(self, obj: Check) -> str:
        return obj.head_sha[:12]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ["rule_id", "severity", "file", "line", "check_run", "suppressed"]
    list_filter = ["severity", "suppressed", "rule_id"]
    search_fields = ["rule_id", "file", "message"]
    list_select_related = ["check_run__project", "policy"]
    raw_id_fields = ["check_run", "policy"]
