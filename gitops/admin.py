"""API tokens: issued here (the raw value is shown once), listed by prefix, revoked in bulk.

Only the hash is stored, and the admin never shows it. The raw value is shown on the page that
answers the form, and only there: not in a message, which Django keeps in a (signed, readable)
cookie or in the session table until the next page shows it.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from gitops.models import TOKEN_PREFIX, ApiToken, Scope, VcsIdentity, hash_token
from releases.models import AuditEvent, Environment


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ApiToken
        fields = ["project", "name", "scopes", "approve_environments"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        environments = Environment.objects.select_related("project")
        if self.instance.project_id is not None:
            # A token approves its own project's environments only (services refuse the rest anyway).
            environments = environments.filter(project_id=self.instance.project_id)
        self.fields["approve_environments"].queryset = environments

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        project = cleaned.get("project")
        others = [e for e in cleaned.get("approve_environments") or [] if project and e.project_id != project.pk]
        if others:
            self.add_error("approve_environments", f"a token of {project.slug} may approve {project.slug}'s "
                           f"environments only, not {', '.join(str(e) for e in others)}")
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "project", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "project__slug"]
    list_select_related = ["project"]
    autocomplete_fields = ["project"]
    filter_horizontal = ["approve_environments"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_tokens"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.Form, change: bool) -> None:
        if not change:
            # Same shape as ApiToken.issue(); done here so that the form saves the m2m grants.
            raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
            obj.prefix = raw[:10]
            obj.token_hash = hash_token(raw)
            request._sluice_issued_token = raw  # for response_add: held by this request only
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(request, "_sluice_issued_token", None)
        if raw is None:  # (not issued by save_model: Django's own answer)
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "Token issued",
            "opts": self.opts,
            "token": obj,
            "raw": raw,
        }
        response = TemplateResponse(request, "admin/gitops/apitoken/issued.html", context)
        response["Cache-Control"] = "no-store"  # not kept by the browser or a proxy
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True).select_related("project"):
            token.revoke()
            AuditEvent.objects.create(
                actor=request.user,
                actor_label=request.user.get_username(),
                verb="revoke",
                project=token.project,
                object_type="api_token",
                object_id=str(token.pk),
                object_repr=str(token),
            )
            revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(VcsIdentity)
class VcsIdentityAdmin(admin.ModelAdmin):
    """Links a VCS login to a user: a release's author cannot approve it (unless allowed)."""

    list_display = ["login", "provider", "user"]
    list_filter = ["provider"]
    search_fields = ["login", "user__username", "user__email"]
    autocomplete_fields = ["user"]
