"""The release API: releases, their rollouts, the operator actions and a database's history.

    POST /api/v1/projects/{project}/releases              token scope `release` (or staff) → 201 new / 200 same
    GET  /api/v1/projects/{project}/releases              scope `read` → newest first, limit/offset
    GET  /api/v1/releases/{uid}                           scope `read` → files, latest rollout, all rollouts
    POST /api/v1/releases/{uid}/stages/{env}/approve      {comment?, override_review?}
    POST /api/v1/releases/{uid}/stages/{env}/reject       {comment?}
    POST /api/v1/releases/{uid}/stages/{env}/run          {override_review?}
    POST /api/v1/releases/{uid}/stages/{env}/skip         {reason}
    POST /api/v1/releases/{uid}/cancel                    scope `release`, staff or an approver {reason?}
    POST /api/v1/releases/{uid}/rollouts                  scope `release`, staff or an approver: re-deploy, 201
    GET  /api/v1/tasks/{id}                               scope `read` → the task with its runs
    POST /api/v1/tasks/{id}/retry · /skip {reason}
    GET  /api/v1/databases/{id}/history                   scope `read` → the mirror of its history table

"Scope `read`" also admits staff and the approvers of the project's environments
(gitops/permissions.py). Approve, reject, run, skip and the task actions only need a signed-in
caller here: releases/services.py decides who may take them and says why not (403), like every
other gate; its `Refused` becomes the design's error body with the status it carries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from gitops.api_errors import ApiError
from gitops.models import ApiToken
from gitops.permissions import HasProjectScope
from releases import services
from releases.loader import version_key
from releases.models import (
    AppliedMigration,
    Approval,
    Database,
    Decision,
    Environment,
    Project,
    Provider,
    Release,
    ReleaseFile,
    Rollout,
    RolloutStatus,
    Stage,
    StageStatus,
    Task,
    TaskRun,
    TaskStatus,
)
from releases.services import Actor
from reviews.api import AutoSchema, MigrationFileSerializer, ResponseSerializer, StrictCharField, unique_paths

# -- requests ----------------------------------------------------------------------------------


class ReleaseVcsSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=Provider.choices, required=False, allow_blank=True)
    repo = serializers.CharField(max_length=300, required=False, allow_blank=True)
    pr = serializers.CharField(
        max_length=50, required=False, allow_blank=True, help_text="Pull request number."
    )
    author = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="VCS login of the pull request's author (may not approve its release).",
    )
    author_email = serializers.EmailField(required=False, allow_blank=True)
    url = serializers.URLField(max_length=1000, required=False, allow_blank=True)


class ReleaseRequestSerializer(serializers.Serializer):
    commit = StrictCharField(
        max_length=64, help_text="The commit SHA: posting it again returns the same release."
    )
    branch = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    title = StrictCharField(required=False, allow_blank=True, default="", help_text="Cut to 500 characters.")
    vcs = ReleaseVcsSerializer(required=False)
    files = MigrationFileSerializer(
        many=True,
        allow_empty=False,
        help_text="Every migration file at the commit (not only the changed ones).",
    )

    def validate_title(self, title: str) -> str:
        return title[:500]  # a long PR title is no reason to fail a release

    def validate_files(self, files: list[dict]) -> list[dict]:
        return unique_paths(files)


class ApproveRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    override_review = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="A written reason to start despite error-level review findings.",
    )


class RejectRequestSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RunRequestSerializer(serializers.Serializer):
    override_review = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why: kept in the audit log.")


class OptionalReasonRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


# -- responses -----------------------------------------------------------------------------------


class StatusField(serializers.ChoiceField):
    """A read-only status, documented as an enum named after its choices (RolloutStatus, StageStatus,
    TaskStatus): three sets of choices all called `status` would otherwise collide in the schema."""

    def __init__(self, choices_class: type[models.TextChoices], **kwargs: Any):
        self.choices_class = choices_class
        super().__init__(choices=choices_class.choices, read_only=True, **kwargs)


class StatusFieldSchema(OpenApiSerializerFieldExtension):
    target_class = StatusField

    def get_name(self) -> str:
        return self.target.choices_class.__name__

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict:
        return {"type": "string", "enum": list(self.target.choices_class.values)}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


class DatabaseRefSerializer(ResponseSerializer):
    """A target database by name: never its URL or anything about its password."""

    class Meta:
        model = Database
        fields = ["id", "name", "engine"]


class TaskSerializer(ResponseSerializer):
    database = DatabaseRefSerializer(read_only=True)
    status = StatusField(TaskStatus)
    duration_seconds = serializers.SerializerMethodField()
    orphaned = serializers.SerializerMethodField(
        help_text="Why the running task's worker is known to be gone (it may then be retried), else null."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "database",
            "status",
            "cancelled_by",
            "attempts",
            "worker",
            "queued_at",
            "heartbeat_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "error",
            "orphaned",
        ]

    def get_duration_seconds(self, task: Task) -> float | None:
        return _seconds(task.started_at, task.finished_at)

    def get_orphaned(self, task: Task) -> str | None:
        return services.orphan_reason(task)


class TaskRunSerializer(ResponseSerializer):
    status = StatusField(TaskStatus)
    duration_seconds = serializers.SerializerMethodField()
    outcomes = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="[{version, action, reason, rows, duration_ms}]",
    )

    class Meta:
        model = TaskRun
        fields = [
            "attempt",
            "status",
            "worker",
            "started_at",
            "finished_at",
            "duration_seconds",
            "runner_ms",
            "outcomes",
            "log",
            "error",
        ]

    def get_duration_seconds(self, run: TaskRun) -> float | None:
        return _seconds(run.started_at, run.finished_at)


class TaskDetailSerializer(TaskSerializer):
    release = serializers.CharField(source="stage.rollout.release.uid", read_only=True)
    rollout = serializers.IntegerField(source="stage.rollout_id", read_only=True)
    environment = serializers.CharField(source="stage.environment.slug", read_only=True)
    runs = TaskRunSerializer(many=True, read_only=True)

    class Meta(TaskSerializer.Meta):
        fields = ["release", "rollout", "environment", *TaskSerializer.Meta.fields, "runs"]


class ApprovalSerializer(ResponseSerializer):
    by = serializers.SerializerMethodField(help_text="The user name, or token:<project>/<name>.")
    valid = serializers.SerializerMethodField(
        help_text="Whether it counts now, as the stage's gate counts it: an approval counts only for the target "
        "databases it was given for, and while its giver may still approve the stage (a rejection always counts)."
    )

    class Meta:
        model = Approval
        fields = ["id", "by", "decision", "comment", "created_at", "valid"]

    def get_by(self, approval: Approval) -> str:
        return Actor(user=approval.user, token=approval.token).label

    def get_valid(self, approval: Approval) -> bool:
        if approval.decision == Decision.REJECT:
            return True
        stage = approval.stage
        return services.approval_counts(stage, approval, _current_fingerprint(self.context, stage.environment))


def _current_fingerprint(context: dict, environment: Environment) -> str:
    """The fingerprint of the environment's targets as resolved now, once per response."""
    cache = context.setdefault("target_fingerprints", {})
    if environment.pk not in cache:
        cache[environment.pk] = services.targets_fingerprint(services.resolve_targets(environment))
    return cache[environment.pk]


class StageSerializer(ResponseSerializer):
    environment = serializers.CharField(source="environment.slug", read_only=True)
    status = StatusField(StageStatus)
    rollout_mode = serializers.CharField(source="environment.rollout", read_only=True)
    required_approvals = serializers.IntegerField(source="environment.required_approvals", read_only=True)
    duration_seconds = serializers.SerializerMethodField()
    approvals = ApprovalSerializer(many=True, read_only=True)
    resolved_targets = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="[{id, name, engine}]: the databases the stage resolved when it started.",
    )
    review = serializers.DictField(
        read_only=True,
        help_text="The review of the release's new files against the environment's policy: "
        "{policy, files, dialects, errors, warnings, findings}.",
    )
    review_override_by = serializers.SerializerMethodField()
    tasks = TaskSerializer(many=True, read_only=True)

    class Meta:
        model = Stage
        fields = [
            "id",
            "environment",
            "order",
            "status",
            "error",
            "started_at",
            "finished_at",
            "duration_seconds",
            "rollout_mode",
            "required_approvals",
            "approvals",
            "resolved_targets",
            "review",
            "review_override_reason",
            "review_override_by",
            "tasks",
        ]

    def get_duration_seconds(self, stage: Stage) -> float | None:
        return _seconds(stage.started_at, stage.finished_at)

    def get_review_override_by(self, stage: Stage) -> str | None:
        return stage.review_override_by.get_username() if stage.review_override_by else None


class RolloutSummarySerializer(ResponseSerializer):
    status = StatusField(RolloutStatus)
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Rollout
        fields = ["id", "status", "created_at", "started_at", "finished_at", "duration_seconds", "error"]

    def get_duration_seconds(self, rollout: Rollout) -> float | None:
        return _seconds(rollout.started_at, rollout.finished_at)


class RolloutSerializer(RolloutSummarySerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta(RolloutSummarySerializer.Meta):
        fields = [*RolloutSummarySerializer.Meta.fields, "stages"]


class ReleaseFileSerializer(ResponseSerializer):
    class Meta:
        model = ReleaseFile
        fields = ["path", "version", "description", "kind", "checksum", "is_new"]


class ReleaseSummarySerializer(ResponseSerializer):
    """A release as listed: its latest rollout in full, the others in short. Expects a release
    from `release_queryset()` (the rollouts are prefetched there)."""

    url = serializers.SerializerMethodField()
    project = serializers.CharField(source="project.slug", read_only=True)
    commit = serializers.CharField(source="commit_sha", read_only=True)
    author_email = serializers.CharField(read_only=True, help_text="Blank when the request gave none.")
    vcs = serializers.DictField(read_only=True)
    file_count = serializers.IntegerField(read_only=True)
    new_file_count = serializers.IntegerField(read_only=True, help_text="Files not in the previous release.")
    rollout = serializers.SerializerMethodField(help_text="The latest rollout, with its stages and tasks.")
    rollouts = RolloutSummarySerializer(source="rollouts_newest_first", many=True, read_only=True)

    class Meta:
        model = Release
        fields = [
            "uid",
            "url",
            "project",
            "commit",
            "branch",
            "title",
            "pull_request",
            "author",
            "author_email",
            "vcs",
            "created_by",
            "created_at",
            "file_count",
            "new_file_count",
            "rollout",
            "rollouts",
        ]

    def get_url(self, release: Release) -> str:
        path = reverse("releases-api:release-detail", args=[release.uid])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(RolloutSerializer(allow_null=True))
    def get_rollout(self, release: Release) -> dict | None:
        latest = release.latest_rollout
        return RolloutSerializer(latest[0], context=self.context).data if latest else None


class ReleaseSerializer(ReleaseSummarySerializer):
    files = ReleaseFileSerializer(many=True, read_only=True)

    class Meta(ReleaseSummarySerializer.Meta):
        fields = [*ReleaseSummarySerializer.Meta.fields, "files"]


class AppliedMigrationSerializer(ResponseSerializer):
    class Meta:
        model = AppliedMigration
        fields = [
            "version",
            "description",
            "kind",
            "checksum",
            "status",
            "statements_done",
            "statements_total",
            "release_uid",
            "applied_by",
            "applied_at",
            "duration_ms",
        ]


class DatabaseHistorySerializer(ResponseSerializer):
    """What a database has applied (the control database's mirror of its sluice_schema_history).
    Its URL and password settings are left out on purpose."""

    project = serializers.CharField(source="environment.project.slug", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)
    history = serializers.SerializerMethodField()

    class Meta:
        model = Database
        fields = ["id", "name", "engine", "project", "environment", "history"]

    @extend_schema_field(AppliedMigrationSerializer(many=True))
    def get_history(self, database: Database) -> list[dict]:
        rows = sorted(database.applied.all(), key=lambda m: version_key(m.version))
        return AppliedMigrationSerializer(rows, many=True).data


# -- views ------------------------------------------------------------------------------------------


def release_queryset() -> QuerySet[Release]:
    """Releases with everything the serializers show, in a fixed number of queries."""
    newest_first = Rollout.objects.order_by("-created_at", "-pk")
    stages = Stage.objects.select_related("environment__approver_group", "review_override_by").prefetch_related(
        Prefetch("tasks", queryset=Task.objects.select_related("database").order_by("database__name")),
        Prefetch(
            "approvals",
            # The givers' groups, identities and grants: whether each approval still counts
            # (services.approval_counts) is then answered without a query per approval.
            queryset=Approval.objects.select_related("user", "token__project")
            .prefetch_related("user__groups", "user__vcs_identities", "token__approve_environments")
            .order_by("created_at", "pk"),
        ),
    )
    # Sliced: one rollout per release (Django runs it as a window query), with its stages.
    latest = newest_first.prefetch_related(Prefetch("stages", queryset=stages.order_by("order")))[:1]
    return (
        Release.objects.select_related("project")
        .annotate(file_count=Count("files"), new_file_count=Count("files", filter=Q(files__is_new=True)))
        .prefetch_related(
            Prefetch("rollouts", queryset=newest_first, to_attr="rollouts_newest_first"),
            Prefetch("rollouts", queryset=latest, to_attr="latest_rollout"),
        )
        .order_by("-created_at", "-pk")
    )


class RefusedAsApiError:
    # A view mixin: services.Refused → the design's error body, with the status it carries.
    # (A comment, not a docstring: drf-spectacular would show it as every operation's description.)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.Refused):
            exc = ApiError(exc.message, code=exc.code, details=exc.details, status_code=exc.status)
        return super().handle_exception(exc)


def _own_project(request: Request, queryset: QuerySet, project_field: str) -> QuerySet:
    """A token sees its own project's objects only: another project's release, task or database is
    "not found", not "forbidden" (as a check is), so a token learns nothing about other projects,
    not even which uids and ids exist."""
    if isinstance(request.auth, ApiToken):
        return queryset.filter(**{project_field: request.auth.project_id})
    return queryset


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ReleasePagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = list(paginated["properties"])  # next and previous are null, not absent
        return paginated


class ReleaseViewSet(RefusedAsApiError, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Releases, their rollouts, and the approvals and operator actions on their stages."""
    schema = AutoSchema()
    queryset = release_queryset()
    lookup_field = "uid"
    pagination_class = ReleasePagination

    def get_permissions(self) -> list[BasePermission]:
        if self.action in ("list", "retrieve"):
            return [HasProjectScope("read")]
        if self.action == "create":
            return [HasProjectScope("release")]
        return [IsAuthenticated()]  # the actions: services decide who (403 with the reason)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return ReleaseSummarySerializer if self.action == "list" else ReleaseSerializer

    def get_queryset(self) -> QuerySet[Release]:
        queryset = _own_project(self.request, super().get_queryset(), "project_id")
        if self.action == "list":
            return queryset.filter(project__slug=self.kwargs.get("project"))
        return queryset.prefetch_related(Prefetch("files", queryset=ReleaseFile.objects.defer("content")))

    def _respond(self, release: Release, code: int = status.HTTP_200_OK) -> Response:
        release = self.get_queryset().get(pk=release.pk)  # read again: the action changed it
        return Response(self.get_serializer(release).data, status=code)

    def _stage(self, env: str) -> Stage:
        # Not get_object(): the release's prefetched rollouts are not needed to find the stage.
        release = get_object_or_404(_own_project(self.request, Release.objects.all(), "project_id"),
                                    uid=self.kwargs["uid"])
        self.check_object_permissions(self.request, release)
        return services.stage_of(release, env)

    @extend_schema(summary="List a project's releases, newest first")
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        get_object_or_404(Project, slug=kwargs["project"])
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Release a commit's migration files",
        request=ReleaseRequestSerializer,
        responses={201: ReleaseSerializer, 200: ReleaseSerializer},
    )
    def create(self, request: Request, project: str) -> Response:
        project_obj = get_object_or_404(Project, slug=project)
        data = _valid(ReleaseRequestSerializer, request)
        release, created = services.create_release(
            project_obj,
            commit=data["commit"],
            files=[(f["path"], f["data"]) for f in data["files"]],
            branch=data["branch"],
            title=data["title"],
            vcs=data.get("vcs", {}),
            actor=Actor.of_request(request),
        )
        return self._respond(release, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(summary="A release with its files, latest rollout, stages and tasks")
    def retrieve(self, request: Request, uid: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Approve a stage", request=ApproveRequestSerializer, responses={200: ReleaseSerializer}
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, uid: str, env: str) -> Response:
        data = _valid(ApproveRequestSerializer, request)
        stage = self._stage(env)
        services.approve(
            stage, Actor.of_request(request), comment=data["comment"], override_review=data["override_review"]
        )
        return self._respond(stage.rollout.release)

    @extend_schema(
        summary="Reject a stage (the release then stops there)",
        request=RejectRequestSerializer,
        responses={200: ReleaseSerializer},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, uid: str, env: str) -> Response:
        data = _valid(RejectRequestSerializer, request)
        stage = self._stage(env)
        services.reject(stage, Actor.of_request(request), comment=data["comment"])
        return self._respond(stage.rollout.release)

    @extend_schema(
        summary="Start a stage now (its gates still apply)",
        request=RunRequestSerializer,
        responses={200: ReleaseSerializer},
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, uid: str, env: str) -> Response:
        data = _valid(RunRequestSerializer, request)
        stage = self._stage(env)
        services.run_stage(stage, Actor.of_request(request), override_review=data["override_review"])
        return self._respond(stage.rollout.release)

    @extend_schema(
        summary="Skip a stage that has not started",
        request=ReasonRequestSerializer,
        responses={200: ReleaseSerializer},
    )
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, uid: str, env: str) -> Response:
        data = _valid(ReasonRequestSerializer, request)
        stage = self._stage(env)
        services.skip_stage(stage, Actor.of_request(request), data["reason"])
        return self._respond(stage.rollout.release)

    @extend_schema(
        summary="Cancel the release's latest rollout",
        request=OptionalReasonRequestSerializer,
        responses={200: ReleaseSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, uid: str) -> Response:
        data = _valid(OptionalReasonRequestSerializer, request)
        release = self.get_object()
        if not release.latest_rollout:
            raise ApiError(
                f"{release.uid} has no rollout", code="not_found", status_code=status.HTTP_404_NOT_FOUND
            )
        services.cancel_rollout(release.latest_rollout[0], Actor.of_request(request), reason=data["reason"])
        return self._respond(release)

    @extend_schema(
        summary="Deploy the release again (a new rollout)", request=None, responses={201: ReleaseSerializer}
    )
    @action(detail=True, methods=["post"])
    def redeploy(self, request: Request, uid: str) -> Response:
        release = self.get_object()
        services.redeploy(release, Actor.of_request(request))
        return self._respond(release, status.HTTP_201_CREATED)


class TaskViewSet(RefusedAsApiError, viewsets.GenericViewSet):
    """One target database's part of a stage, with every attempt at it."""
    schema = AutoSchema()
    queryset = Task.objects.select_related(
        "database", "stage__environment", "stage__rollout__release"
    ).prefetch_related(Prefetch("runs", queryset=TaskRun.objects.order_by("attempt")))
    serializer_class = TaskDetailSerializer

    def get_permissions(self) -> list[BasePermission]:
        if self.action == "retrieve":
            return [HasProjectScope("read")]
        return [IsAuthenticated()]  # retry and skip: services decide who (403 with the reason)

    def get_queryset(self) -> QuerySet[Task]:
        return _own_project(self.request, super().get_queryset(), "stage__rollout__release__project_id")

    def check_object_permissions(self, request: Request, obj: Task) -> None:
        super().check_object_permissions(
            request, obj.stage.rollout.release
        )  # a task's project is its release's

    def _respond(self, task: Task) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=task.pk)).data)

    @extend_schema(summary="A task with every attempt's log and outcomes")
    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Run a failed or orphaned task again", request=None)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: int) -> Response:
        task = services.retry_task(self.get_object(), Actor.of_request(request))
        return self._respond(task)

    @extend_schema(summary="Skip a pending, failed or cancelled task", request=ReasonRequestSerializer)
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: int) -> Response:
        data = _valid(ReasonRequestSerializer, request)
        task = services.skip_task(self.get_object(), Actor.of_request(request), data["reason"])
        return self._respond(task)


class DatabaseViewSet(viewsets.GenericViewSet):
    """Target databases, as far as the API shows them: never their URL or password settings."""
    schema = AutoSchema()
    queryset = Database.objects.select_related("environment__project").prefetch_related("applied")
    serializer_class = DatabaseHistorySerializer
    permission_classes = [HasProjectScope("read")]

    def get_queryset(self) -> QuerySet[Database]:
        return _own_project(self.request, super().get_queryset(), "environment__project_id")

    def check_object_permissions(self, request: Request, obj: Database) -> None:
        super().check_object_permissions(
            request, obj.environment
        )  # a database's project is its environment's

    @extend_schema(summary="What a database has applied")
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)
