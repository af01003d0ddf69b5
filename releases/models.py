"""Control-database records: projects, environments, target databases, releases and rollouts.

The tables follow design.md §4. Behaviour that spans several models lives in services; the
runner itself (releases/runner/) knows nothing of these models.
"""

from __future__ import annotations

import fnmatch
import os
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from releases import crypto
from releases.runner.target import TargetError, parse_target


class Provider(models.TextChoices):
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    AZURE = "azure", "Azure DevOps"
    BITBUCKET = "bitbucket", "Bitbucket"
    OTHER = "other", "Other"


class Project(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    repository_url = models.URLField(blank=True)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.GITHUB)
    default_branch = models.CharField(max_length=200, default="main")
    migrations_dir = models.CharField(max_length=500, default="migrations")
    allow_out_of_order = models.BooleanField(
        default=False, help_text="Apply a pending version older than the newest applied one."
    )
    default_policy = models.ForeignKey(
        "reviews.ReviewPolicy",
        null=True,
        blank=True,
        # PROTECT: deleting the policy must not quietly move the project to the fallback.
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Used by environments without a policy of their own; fallback: 'recommended'.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class RolloutMode(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    MANUAL = "manual", "Manual (approvals)"


class FailurePolicy(models.TextChoices):
    STOP = "stop", "Stop: cancel the stage's pending tasks"
    CONTINUE = "continue", "Continue: run the remaining tasks"


class Environment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    slug = models.SlugField()
    name = models.CharField(max_length=200, blank=True)
    order = models.PositiveIntegerField(default=0, help_text="Stages run in ascending order.")
    rollout = models.CharField(max_length=20, choices=RolloutMode.choices, default=RolloutMode.MANUAL)
    required_approvals = models.PositiveIntegerField(default=1)
    approver_group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    allow_self_approval = models.BooleanField(default=False)
    review_policy = models.ForeignKey(
        # PROTECT: deleting prod's `strict` must not silently review prod under a weaker policy.
        "reviews.ReviewPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    concurrency = models.PositiveIntegerField(
        default=4, help_text="Tasks of one stage that run at the same time."
    )
    failure_policy = models.CharField(
        max_length=20, choices=FailurePolicy.choices, default=FailurePolicy.STOP
    )

    class Meta:
        ordering = ["project", "order", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="environment_slug_unique")
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"


class Engine(models.TextChoices):
    POSTGRESQL = "postgresql", "PostgreSQL"
    MYSQL = "mysql", "MySQL / MariaDB"
    SQLITE = "sqlite", "SQLite"


# The review engine's and the splitter's name for each engine.
DIALECT_OF_ENGINE = {Engine.POSTGRESQL: "postgres", Engine.MYSQL: "mysql", Engine.SQLITE: "sqlite"}

# The only environment variables a Database may read its password from. Any name would let whoever
# may edit a Database have the worker send SECRET_KEY, DATABASE_URL or a cloud credential, as the
# password, to a host of their choosing.
PASSWORD_ENV_PREFIX = "SLUICE_DB_PASSWORD_"
PASSWORD_ENV_NAME = re.compile(rf"{PASSWORD_ENV_PREFIX}[A-Z0-9_]+")


class Database(models.Model):
    """A target database. Its password is encrypted at rest or read from an environment
    variable, and never displayed: `url` holds everything else."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="databases")
    name = models.CharField(max_length=200)
    engine = models.CharField(max_length=20, choices=Engine.choices, editable=False)
    url = models.CharField(
        max_length=1000,
        help_text="postgresql://user@host:5432/db, mysql://user@host:3306/db or sqlite:///path "
        "(without the password).",
    )
    password_encrypted = models.TextField(blank=True, editable=False)
    password_env = models.CharField(
        # The admin's help text names the rule (PASSWORD_ENV_PREFIX): no schema migration for it.
        max_length=200, blank=True, help_text="Read the password from this environment variable."
    )
    labels = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["environment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="database_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            target = parse_target(self.url)
        except TargetError as exc:
            raise ValidationError({"url": str(exc)}) from exc
        if target.password:
            raise ValidationError(
                {"url": "Put the password in the password field, not in the URL."}
            )
        if self.password_env and not PASSWORD_ENV_NAME.fullmatch(self.password_env):
            raise ValidationError({"password_env": self._password_env_refused()})
        _check_labels(self.labels)

    def _password_env_refused(self) -> str:
        return (f"{self.password_env!r} is not a password variable: the name must start with "
                f"{PASSWORD_ENV_PREFIX} followed by capital letters, digits or underscores")

    def save(self, *args, **kwargs) -> None:
        # Checked here too, not only in forms: a password in `url` would be shown everywhere.
        self.clean()
        self.engine = parse_target(self.url).engine
        super().save(*args, **kwargs)

    def set_password(self, password: str) -> None:
        self.password_encrypted = crypto.encrypt(password) if password else ""

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted or self.password_env)

    def password(self) -> str | None:
        if self.password_env:
            # Checked here too: a row saved before the rule (or written around save()) must not
            # send another variable's value to its host.
            if not PASSWORD_ENV_NAME.fullmatch(self.password_env):
                raise ValueError(f"database {self.name}: password_env {self._password_env_refused()}")
            return os.environ.get(self.password_env)
        if self.password_encrypted:
            return crypto.decrypt(self.password_encrypted)
        return None

    def target(self):
        """The runner's connection target, password included (never print it: use .redacted)."""
        return parse_target(self.url).with_password(self.password())

    def mirror_history(self, rows) -> None:
        """Make AppliedMigration the mirror of the target's history rows (runner HistoryRow):
        one read, then only the rows that changed are written (a re-deploy writes nothing).

        New rows go in with one `executemany` rather than `bulk_create`: building and compiling 200
        model instances cost the worker ~10 ms per task (its own overhead is measured in tens of ms)."""
        fields = ["description", "kind", "checksum", "status", "statements_done", "statements_total",
                  "release_uid", "applied_by", "applied_at", "duration_ms"]
        now = timezone.now()
        with transaction.atomic():
            have = {version: (pk, values) for pk, version, *values in self.applied.values_list("pk", "version", *fields)}
            new, changed = [], []
            for row in rows:
                values = (row.description, row.kind, row.checksum, row.status, row.statements_done,
                          row.statements_total, row.release_id or "", row.applied_by, row.applied_at,
                          row.duration_ms)
                mirror = have.pop(row.version, None)
                if mirror is None:
                    new.append((row.version, values))
                elif tuple(mirror[1]) != values:
                    changed.append(AppliedMigration(pk=mirror[0], database=self, version=row.version,
                                                    synced_at=now, **dict(zip(fields, values, strict=True))))
            if new:
                self._insert_applied(fields, new, now)
            AppliedMigration.objects.bulk_update(changed, [*fields, "synced_at"], batch_size=500)
            if have:
                AppliedMigration.objects.filter(pk__in=[pk for pk, _ in have.values()]).delete()

    def _insert_applied(self, fields: list[str], rows: list[tuple[str, tuple]], now) -> None:
        """New mirror rows, written the cheap way for the control database's engine."""
        meta = AppliedMigration._meta
        names = ["database", "version", *fields, "synced_at"]
        columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in names)
        table = connection.ops.quote_name(meta.db_table)
        at = fields.index("applied_at")
        adapt = connection.ops.adapt_datetimefield_value
        synced = adapt(now)
        params = [(self.pk, version, *values[:at], adapt(values[at]), *values[at + 1:], synced)
                  for version, values in rows]
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"
        connection.ensure_connection()
        if connection.vendor == "postgresql":
            # Django's psycopg cursors bind client-side, where executemany re-renders the statement
            # for every row: a server-binding cursor sends the one statement and the rows in a
            # pipeline (17 → 11 ms for 200 rows; the rest is the server's index and FK work).
            import psycopg

            with psycopg.Cursor(connection.connection) as cursor:
                cursor.executemany(sql, params)
        else:
            with connection.cursor() as cursor:
                cursor.executemany(sql, params)


class DatabaseGroup(models.Model):
    """Databases of one environment chosen by name pattern and labels; resolved when the
    stage starts, and the resolved list is stored on the stage."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=200)
    name_pattern = models.CharField(max_length=200, default="*", help_text="Shell-style, e.g. shard-*")
    labels = models.JSONField(default=dict, blank=True, help_text='Every label must match: {"tier": "eu"}')

    class Meta:
        ordering = ["environment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="group_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.environment}/{self.name}"

    def clean(self) -> None:
        _check_labels(self.labels)

    def save(self, *args, **kwargs) -> None:
        # Checked here too, not only in forms: labels that are not an object would stop every
        # rollout of the project when its stages resolve their targets.
        self.clean()
        super().save(*args, **kwargs)

    def resolve(self) -> list[Database]:
        members = []
        for database in self.environment.databases.order_by("name"):
            if not fnmatch.fnmatchcase(database.name, self.name_pattern):
                continue
            if all(_label_matches(database.labels, k, v) for k, v in self.labels.items()):
                members.append(database)
        return members


def _check_labels(labels: object) -> None:
    if not isinstance(labels, dict):
        raise ValidationError({"labels": 'Labels are a JSON object of names and values, e.g. {"tier": "eu"}.'})


def _label_matches(labels: dict, name: str, wanted: object) -> bool:
    """The database has the label, with the same JSON value: a missing label is not null, and
    true is not 1 (Python's True == 1 would say so), as "1" is not 1."""
    if name not in labels:
        return False
    have = labels[name]
    return isinstance(have, bool) == isinstance(wanted, bool) and have == wanted


class Release(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    uid = models.CharField(max_length=40, unique=True, help_text="rel-YYYYMMDD-NN")
    commit_sha = models.CharField(max_length=64)
    branch = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=500, blank=True)
    pull_request = models.CharField(max_length=50, blank=True)
    author = models.CharField(max_length=200, blank=True, help_text="VCS login of the PR author")
    author_email = models.EmailField(blank=True)
    vcs = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=200, blank=True, help_text="token or user")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "commit_sha"], name="release_commit_unique")
        ]

    def __str__(self) -> str:
        return self.uid


class MigrationKind(models.TextChoices):
    DDL = "ddl", "DDL (schema)"
    DML = "dml", "DML (data)"


class ReleaseFile(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=1000)
    version = models.CharField(max_length=100)
    description = models.CharField(max_length=500)
    kind = models.CharField(max_length=3, choices=MigrationKind.choices)
    checksum = models.CharField(max_length=80)
    content = models.TextField()
    is_new = models.BooleanField(default=True, help_text="Not in the project's previous release.")

    class Meta:
        ordering = ["release", "id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "version"], name="release_file_version_unique")
        ]

    def __str__(self) -> str:
        return self.path


class RolloutStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


RolloutStatus.ACTIVE = frozenset({RolloutStatus.PENDING, RolloutStatus.RUNNING})
RolloutStatus.TERMINAL = frozenset(
    {RolloutStatus.SUCCEEDED, RolloutStatus.FAILED, RolloutStatus.CANCELLED}
)


class Rollout(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="rollouts")
    status = models.CharField(max_length=20, choices=RolloutStatus.choices, default=RolloutStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"rollout of {self.release.uid}"


class StageStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for the previous stage"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    BLOCKED = "blocked", "Blocked (rejected or review errors)"
    READY = "ready", "Ready to run"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped by an operator"
    CANCELLED = "cancelled", "Cancelled"


StageStatus.TERMINAL = frozenset(
    {StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.SKIPPED, StageStatus.CANCELLED}
)
StageStatus.PASSED = frozenset({StageStatus.SUCCEEDED, StageStatus.SKIPPED})


class Stage(models.Model):
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="stages")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="stages")
    order = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=StageStatus.choices, default=StageStatus.WAITING)
    resolved_targets = models.JSONField(
        default=list, blank=True, help_text="Database ids and names the stage resolved when it started."
    )
    review = models.JSONField(
        default=dict, blank=True,
        help_text="The review of the release's new files against the environment's policy, before the start.",
    )
    review_override_reason = models.TextField(blank=True)
    review_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["rollout", "order"]
        constraints = [
            models.UniqueConstraint(fields=["rollout", "environment"], name="stage_environment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.rollout.release.uid} → {self.environment.slug}"


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped by an operator"
    CANCELLED = "cancelled", "Cancelled"


TaskStatus.ACTIVE = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING})
TaskStatus.TERMINAL = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED}
)


class CancelledBy(models.TextChoices):
    NOBODY = "", "-"
    FAILURE_POLICY = "failure_policy", "The stage's failure policy (stop)"
    OPERATOR = "operator", "An operator (cancel)"


class Task(models.Model):
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="tasks")
    database = models.ForeignKey(Database, on_delete=models.PROTECT, related_name="tasks")
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    cancelled_by = models.CharField(max_length=20, choices=CancelledBy.choices, blank=True, default="")
    queued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid that claimed it")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["stage", "database__name"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "database"], name="task_database_unique")
        ]

    def __str__(self) -> str:
        return f"{self.stage} / {self.database.name}"


class TaskRun(models.Model):
    """One attempt at a task: what the runner did, file by file."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="runs")
    attempt = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.RUNNING)
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcomes = models.JSONField(
        default=list, blank=True, help_text="[{version, action, reason, rows, duration_ms}]"
    )
    runner_ms = models.PositiveIntegerField(
        default=0, help_text="The runner's own time in this attempt (connect, plan, apply); the rest is the worker's."
    )
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["task", "attempt"]
        constraints = [models.UniqueConstraint(fields=["task", "attempt"], name="taskrun_attempt_unique")]

    def __str__(self) -> str:
        return f"{self.task} #{self.attempt}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class Approval(models.Model):
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    token = models.ForeignKey(
        "gitops.ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    targets_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="Hash of the resolved target list the approval is bound to."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stage", "created_at"]

    def __str__(self) -> str:
        return f"{self.decision} of {self.stage}"


class AppliedMigration(models.Model):
    """Mirror of a target's sluice_schema_history, for the dashboard. The target's own table
    stays the source of truth for change detection."""

    database = models.ForeignKey(Database, on_delete=models.CASCADE, related_name="applied")
    version = models.CharField(max_length=100)
    description = models.CharField(max_length=500)
    kind = models.CharField(max_length=3, choices=MigrationKind.choices)
    checksum = models.CharField(max_length=80)
    status = models.CharField(max_length=20)
    statements_done = models.PositiveIntegerField(default=0)
    statements_total = models.PositiveIntegerField(default=0)
    release_uid = models.CharField(max_length=40, blank=True)
    applied_by = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["database", "applied_at"]
        constraints = [
            models.UniqueConstraint(fields=["database", "version"], name="applied_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.database.name} {self.version}"


class AuditEvent(models.Model):
    """Who did what to which object, when. Written by the services, never by signals."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="user name, token name or 'system'")
    verb = models.CharField(max_length=50)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=50)
    object_repr = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.verb} {self.object_type} {self.object_id}"
