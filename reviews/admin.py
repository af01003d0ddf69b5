"""Review policies are composed here; checks and findings are records of what CI asked.

A policy's change page lists every registered rule: the rows it stores, then one pre-filled row
for each rule it does not mention, with the severity and payload its base gives (the template
of the same name, else the catalogue default: reviews/policy_io.py; `default` for a rule whose
default differs by engine). A pre-filled row
is saved only when edited, so an untouched rule keeps following the catalogue's default. Every
row is validated against the registry (unknown id, severity, payload schema) with the error on
its field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

import reviews.rules  # noqa: F401  (every family registers its rules on import)
from reviews.engine import ALWAYS_ERRORS, RULES, Rule
from reviews.models import DEFAULT_SEVERITY, Check, Finding, ReviewPolicy, RuleSetting
from reviews.policy_io import base_policy, check_row, row_severity


def _rules() -> list[Rule]:
    return sorted(RULES.values(), key=lambda r: r.id)


def _defaults(policy: ReviewPolicy | None) -> list[tuple[Rule, str, dict]]:
    """(rule, severity, payload) for each rule the policy has no row for: what its base (the
    template of the same name, else recommended; see policy_io) gives that rule."""
    base = base_policy(policy.name if policy is not None else "")
    return [(r, row_severity(base, r.id), base.payload(r.id)) for r in _missing_rules(policy)]


def _missing_rules(policy: ReviewPolicy | None) -> list[Rule]:
    present = (
        set(policy.rules.values_list("rule_id", flat=True)) if policy is not None and policy.pk else set()
    )
    return [r for r in _rules() if r.id not in present]


class PayloadField(forms.JSONField):
    def has_changed(self, initial: Any, data: Any) -> bool:
        # Django's JSONField counts {} as empty, so an untouched "{}" would always look changed
        # (and every pre-filled row would be saved).
        try:
            data = self.to_python(data)
        except forms.ValidationError:
            return True
        return (initial or {}) != (data or {})


class RuleSettingForm(forms.ModelForm):
    payload = PayloadField(required=False, help_text="JSON object; empty for the rule's defaults.")

    class Meta:
        model = RuleSetting
        fields = ["policy", "rule_id", "severity", "payload"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        rule_id, severity = cleaned.get("rule_id"), cleaned.get("severity")
        if "payload" in cleaned and cleaned["payload"] is None:
            cleaned["payload"] = {}  # an emptied box means "the defaults", not JSON null
        if not rule_id:
            return cleaned
        if rule_id not in RULES:
            self.add_error("rule_id", f"Unknown rule id {rule_id!r}: the ids are listed on /rules/.")
            return cleaned
        if rule_id in ALWAYS_ERRORS and severity and severity not in ("error", DEFAULT_SEVERITY):
            self.add_error("severity", f"{rule_id} is always an error: a file that cannot be read or parsed, or is "
                           "empty, must not pass review.")
            return cleaned
        if not isinstance(cleaned.get("payload", {}), dict):
            # check_setting reads any false value ([], 0, "") as "the defaults" but it would be stored as typed.
            self.add_error("payload", f"{rule_id}: the payload must be an object")
        elif severity and "payload" in cleaned:
            try:
                cleaned["payload"] = check_row(rule_id, severity, cleaned["payload"]).payload
            except ValueError as exc:
                self.add_error("payload", str(exc))
        return cleaned


class AllRulesFormSet(BaseInlineFormSet):
    """The stored rows, then one pre-filled extra form per rule the policy does not mention."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.initial_extra = [
            {"rule_id": r.id, "severity": severity, "payload": payload}
            for r, severity, payload in _defaults(self.instance)
        ]

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)
        if form.instance.pk is None and not form.instance.rule_id:
            # So that the read-only explanation column can name the rule of a pre-filled row.
            form.instance.rule_id = form.initial.get("rule_id", "")
        return form


class RuleSettingInline(admin.TabularInline):
    model = RuleSetting
    form = RuleSettingForm
    formset = AllRulesFormSet
    fields = ["rule_id", "explanation", "severity", "payload"]
    readonly_fields = ["explanation"]

    def get_extra(self, request: HttpRequest, obj: ReviewPolicy | None = None, **kwargs: Any) -> int:
        return len(_missing_rules(obj))

    @admin.display(description="What it flags")
    def explanation(self, obj: RuleSetting) -> str:
        return _explanation(obj.rule_id)


def _explanation(rule_id: str) -> str:
    rule_obj = RULES.get(rule_id)
    if rule_obj is None:
        return "unknown rule" if rule_id else ""
    return format_html(
        '{} <a href="{}" target="_blank">about</a>',
        rule_obj.summary,
        reverse("rule-detail", args=[rule_obj.id]),
    )


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "rule_count", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [RuleSettingInline]
    actions = ["add_rows_for_all_rules"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewPolicy]:
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description="Rules", ordering="rule_count")
    def rule_count(self, obj: ReviewPolicy) -> int:
        return obj.rule_count

    @admin.action(description="Add rows for all rules (default severity and payload)")
    def add_rows_for_all_rules(self, request: HttpRequest, queryset: QuerySet[ReviewPolicy]) -> None:
        added = 0
        for policy in queryset:
            rows = [
                RuleSetting(policy=policy, rule_id=r.id, severity=severity, payload=dict(payload))
                for r, severity, payload in _defaults(policy)
            ]
            RuleSetting.objects.bulk_create(rows)
            added += len(rows)
        self.message_user(request, f"Added {added} rule setting(s).", messages.SUCCESS)


@admin.register(RuleSetting)
class RuleSettingAdmin(admin.ModelAdmin):
    form = RuleSettingForm
    list_display = ["rule_id", "policy", "severity", "explanation"]
    list_filter = ["severity", "policy"]
    search_fields = ["rule_id", "policy__name"]
    list_select_related = ["policy"]
    autocomplete_fields = ["policy"]

    @admin.display(description="What it flags")
    def explanation(self, obj: RuleSetting) -> str:
        return _explanation(obj.rule_id)


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
    list_display = ["rule", "severity", "file", "line", "check_run", "suppressed"]
    readonly_fields = ["rule"]
    list_filter = ["severity", "suppressed", "rule_id"]
    search_fields = ["rule_id", "file", "message"]
    list_select_related = ["check_run__project", "policy"]
    raw_id_fields = ["check_run", "policy"]

    @admin.display(description="Rule", ordering="rule_id")
    def rule(self, obj: Finding) -> str:
        """The rule id, linked to its page (what it flags, why, the safe alternative)."""
        return format_html('<a href="{}">{}</a>', reverse("rule-detail", args=[obj.rule_id]), obj.rule_id)
