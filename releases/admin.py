"""The ops console for projects, targets, releases and rollouts.

Rows written by the release workflow (rollouts, stages, tasks, runs, approvals, the history
mirror, audit events) are shown, never created here, and their status fields are read-only:
state changes go through the model methods and services, which also write the audit trail.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Model
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from releases.models import (
    PASSWORD_ENV_PREFIX,
    AppliedMigration,
    Approval,
    AuditEvent,
    Database,
    DatabaseGroup,
    Environment,
    Project,
    Release,
    ReleaseFile,
    Rollout,
    Stage,
    Task,
    TaskRun,
)
from releases.runner.target import TargetError, parse_target


class ViewOnlyMixin:
    """Rows that only the workflow writes: viewable (and deletable where the model allows)."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ViewOnlyInline(ViewOnlyMixin, admin.TabularInline):
    can_delete = False
    extra = 0
    show_change_link = True


def _without_password(url: str) -> str:
    """The URL with any password removed (user@host kept), to never echo one back."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    if parts.username is not None:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def _server_of(url: str) -> tuple | None:
    """Where a URL sends its password: engine, host, port and user."""
    try:
        target = parse_target(url)
    except TargetError:
        return None
    return target.engine, target.host, target.port, target.user


class DatabaseForm(forms.ModelForm):
    """The password is write-only: never rendered, empty keeps the stored one."""

    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted. Leave empty to keep the current password.",
    )
    clear_password = forms.BooleanField(required=False, help_text="Remove the stored password.")

    class Meta:
        model = Database
        fields = ["environment", "name", "url", "password", "clear_password", "password_env", "labels"]
        help_texts = {
            "password_env": f"Or read the password from this environment variable of the worker. Its name "
            f"must start with {PASSWORD_ENV_PREFIX} (e.g. {PASSWORD_ENV_PREFIX}SHOP_PROD): no other "
            "variable of the Sluice process is ever sent as a password.",
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("clear_password"):
            raise ValidationError("Either enter a new password or clear it, not both.")
        url = self.data.get(self.add_prefix("url"), "")
        # Database.clean refuses a URL with a password; don't render that password back either.
        try:
            has_password = bool(url) and parse_target(url).password is not None
        except TargetError:
            has_password = False
        if has_password:
            self.data = self.data.copy()
            self.data[self.add_prefix("url")] = _without_password(url)
        if (self.instance.pk and self.instance.password_encrypted and "url" in self.changed_data
                and not cleaned.get("password") and not cleaned.get("clear_password")
                and _server_of(self.initial.get("url", "")) != _server_of(cleaned.get("url") or "")):
            # Whoever may edit the URL must not have the stored password sent to a server of their choosing.
            self.add_error("password", "The URL now points to another server or user: enter the password for it "
                                       "(or clear the stored one). The stored password is never sent elsewhere.")
        return cleaned

    def save(self, commit: bool = True) -> Database:
        if self.cleaned_data.get("clear_password"):
            self.instance.set_password("")
        elif self.cleaned_data.get("password"):
            self.instance.set_password(self.cleaned_data["password"])
        return super().save(commit)


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0
    fields = ["slug", "name", "order", "rollout", "required_approvals", "approver_group", "review_policy"]
    show_change_link = True


class DatabaseInline(admin.TabularInline):
    model = Database
    form = DatabaseForm
    extra = 0
    fields = ["name", "url", "password", "clear_password", "password_env", "engine", "password_status"]
    readonly_fields = ["engine", "password_status"]
    show_change_link = True

    @admin.display(description="Password")
    def password_status(self, obj: Database) -> str:
        return _password_status(obj)


class DatabaseGroupInline(admin.TabularInline):
    model = DatabaseGroup
    extra = 0
    fields = ["name", "name_pattern", "labels"]


def _password_status(obj: Database) -> str:
    if obj.password_env:
        return f"from ${obj.password_env}"
    if obj.password_encrypted:
        return "stored (encrypted)"
    return "none"


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "provider", "default_branch", "migrations_dir", "allow_out_of_order"]
    list_filter = ["provider", "allow_out_of_order"]
    search_fields = ["slug", "name", "repository_url"]
    list_select_related = ["default_policy"]
    autocomplete_fields = ["default_policy"]
    readonly_fields = ["created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [EnvironmentInline]


class HidesPasswords:
    """The change form posts a Database's password: an error report (DEBUG's page, the mail to
    ADMINS) shows none of the posted values."""

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, *args, **kwargs):
        return super().changeform_view(*args, **kwargs)


@admin.register(Environment)
class EnvironmentAdmin(HidesPasswords, admin.ModelAdmin):
    list_display = [
        "__str__",
        "name",
        "order",
        "rollout",
        "required_approvals",
        "approver_group",
        "review_policy",
    ]
    list_filter = ["rollout", "project"]
    search_fields = ["slug", "name", "project__slug", "project__name"]
    list_select_related = ["project", "approver_group", "review_policy"]
    autocomplete_fields = ["project", "review_policy"]
    ordering = ["project__slug", "order"]
    inlines = [DatabaseInline, DatabaseGroupInline]


@admin.register(Database)
class DatabaseAdmin(HidesPasswords, admin.ModelAdmin):
    form = DatabaseForm
    # No URL column: the list is for finding a database, and the change form has the URL.
    list_display = ["name", "environment", "engine", "password_status", "created_at"]
    list_filter = ["engine", "environment__project", "environment__slug"]
    search_fields = ["name", "environment__slug", "environment__project__slug"]
    list_select_related = ["environment__project"]
    autocomplete_fields = ["environment"]
    readonly_fields = ["engine", "password_status", "created_at"]

    @admin.display(description="Password")
    def password_status(self, obj: Database) -> str:
        return _password_status(obj)


@admin.register(DatabaseGroup)
class DatabaseGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "name_pattern", "labels"]
    list_filter = ["environment__project"]
    search_fields = ["name", "name_pattern", "environment__slug", "environment__project__slug"]
    list_select_related = ["environment__project"]
    autocomplete_fields = ["environment"]


class ReleaseFileInline(ViewOnlyInline):
    model = ReleaseFile
    fields = ["path", "version", "kind", "checksum", "is_new"]


@admin.register(Release)
class ReleaseAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Releases are immutable: created by the API on merge, never edited."""

    list_display = [
        "uid",
        "project",
        "title",
        "branch",
        "short_commit",
        "pull_request",
        "author",
        "created_at",
    ]
    list_filter = ["project", "created_at"]
    search_fields = ["uid", "commit_sha", "title", "branch", "pull_request", "author"]
    list_select_related = ["project"]
    date_hierarchy = "created_at"
    inlines = [ReleaseFileInline]

    @admin.display(description="Commit")
    def short_commit(self, obj: Release) -> str:
        return obj.commit_sha[:12]

    def has_delete_permission(self, request: HttpRequest, obj: Release | None = None) -> bool:
        # Deleting it would delete its rollouts, stages, tasks, runs and approvals with it: the
        # record of what ran where. (The bulk action asks this per release, too.)
        if obj is not None and obj.rollouts.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ReleaseFile)
class ReleaseFileAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["path", "release", "version", "kind", "is_new", "checksum"]
    list_filter = ["kind", "is_new", "release__project"]
    search_fields = ["path", "version", "release__uid"]
    list_select_related = ["release"]

    def has_delete_permission(self, request: HttpRequest, obj: ReleaseFile | None = None) -> bool:
        return False  # a release is immutable: without the file, its databases would never get it


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    can_delete = False
    fields = ["order", "environment", "status", "started_at", "finished_at", "error"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Rollout)
class RolloutAdmin(admin.ModelAdmin):
    list_display = ["__str__", "release", "status", "created_at", "started_at", "finished_at"]
    list_filter = ["status", "release__project"]
    search_fields = ["release__uid", "release__commit_sha"]
    list_select_related = ["release"]
    raw_id_fields = ["release"]
    # The release too: moving a rollout would carry its approvals over to another release.
    readonly_fields = ["release", "status", "created_at", "started_at", "finished_at", "error"]
    date_hierarchy = "created_at"
    inlines = [StageInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a rollout is created with its stages by the release workflow


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    can_delete = False
    fields = ["database", "status", "attempts", "started_at", "finished_at", "error"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ApprovalInline(ViewOnlyInline):
    model = Approval
    fields = ["decision", "user", "token", "comment", "created_at"]
    readonly_fields = fields


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "environment", "order", "status", "started_at", "finished_at"]
    list_filter = ["status", "environment__project", "environment__slug"]
    search_fields = ["rollout__release__uid", "environment__slug"]
    list_select_related = ["rollout__release", "environment__project"]
    raw_id_fields = ["rollout", "environment"]
    # A review override is recorded by the service that grants it (with its audit event). The
    # gates read the rollout, environment, order and review: editing them here would bypass them.
    readonly_fields = [
        "rollout",
        "environment",
        "order",
        "review",
        "status",
        "resolved_targets",
        "review_override_reason",
        "review_override_by",
        "started_at",
        "finished_at",
        "error",
    ]
    inlines = [TaskInline, ApprovalInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class TaskRunInline(ViewOnlyInline):
    model = TaskRun
    fields = ["attempt", "status", "worker", "started_at", "finished_at", "error"]
    readonly_fields = fields


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["__str__", "database", "status", "attempts", "worker", "started_at", "finished_at"]
    list_filter = ["status", "stage__environment__project", "stage__environment__slug"]
    search_fields = ["database__name", "stage__rollout__release__uid", "worker"]
    list_select_related = ["stage__rollout__release", "stage__environment", "database"]
    raw_id_fields = ["stage", "database"]
    # Its stage and database too: a task moved to another database would run there ungated.
    readonly_fields = ["stage", "database", "status", "cancelled_by", "queued_at", "attempts", "worker",
                       "heartbeat_at", "started_at", "finished_at", "error"]
    inlines = [TaskRunInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TaskRun)
class TaskRunAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["__str__", "attempt", "status", "worker", "started_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["task__database__name", "task__stage__rollout__release__uid", "worker"]
    list_select_related = ["task__stage__rollout__release", "task__stage__environment", "task__database"]
    raw_id_fields = ["task"]


@admin.register(Approval)
class ApprovalAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Approvals are decisions on record: given through the API or the pages, never edited."""

    list_display = ["stage", "decision", "user", "token", "created_at"]
    list_filter = ["decision", "stage__environment__project"]
    search_fields = ["stage__rollout__release__uid", "user__username", "token__name", "comment"]
    list_select_related = ["stage__rollout__release", "stage__environment", "user", "token__project"]
    raw_id_fields = ["stage", "user", "token"]


@admin.register(AppliedMigration)
class AppliedMigrationAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """A mirror of the target's own history table: deleting a row here changes nothing on the
    target (and is allowed, so that deleting a database still works)."""

    list_display = [
        "version",
        "description",
        "database",
        "kind",
        "status",
        "release_uid",
        "applied_by",
        "applied_at",
    ]
    list_filter = ["status", "kind", "database__environment__project", "database__environment__slug"]
    search_fields = ["version", "description", "database__name", "release_uid"]
    list_select_related = ["database"]
    raw_id_fields = ["database"]


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "verb", "object_type", "object_id", "object_repr", "project"]
    list_filter = ["verb", "object_type", "project"]
    search_fields = ["actor_label", "verb", "object_type", "object_id", "object_repr"]
    list_select_related = ["project"]
    raw_id_fields = ["actor", "project"]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # the audit trail is append-only
