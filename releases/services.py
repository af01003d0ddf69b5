"""Releases and their progressive rollout (design.md §1, §4–§5): the one place that changes them.

Every transition is a conditional update or happens with the rollout's row locked, so two
callers (a worker finishing a task, an approver in the browser, a second delivery of a queue
message) cannot both make it: whatever calls these functions twice gets the same outcome once.
The gates (order, approvals, review, rejection) are checked here, for every caller; the API and
the admin only translate `Refused` into a response.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from releases.loader import FileProblem, LoadError, MigrationFile, load_files, version_key
from releases.models import (
    DIALECT_OF_ENGINE,
    Approval,
    AuditEvent,
    CancelledBy,
    Database,
    Decision,
    Environment,
    FailurePolicy,
    Project,
    Release,
    ReleaseFile,
    Rollout,
    RolloutMode,
    RolloutStatus,
    Stage,
    StageStatus,
    Task,
    TaskRun,
    TaskStatus,
)
from releases.runner.target import TargetError, parse_target

log = logging.getLogger(__name__)

REVIEW_FINDINGS_KEPT = 50  # error findings stored on a stage (the count is always exact)


class Refused(Exception):
    """An action the caller may not take now. `status` is the HTTP status the API answers."""

    def __init__(self, message: str, *, code: str = "refused", status: int = 409, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or []


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a user (browser session), a token (CI), or the system (the worker)."""

    user: Any = None
    token: Any = None

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"token:{self.token.project.slug}/{self.token.name}"
        if self.user is not None:
            return self.user.get_username()
        return "system"

    @classmethod
    def of_request(cls, request: Any) -> Actor:
        from gitops.models import ApiToken

        if isinstance(request.auth, ApiToken):
            return cls(token=request.auth)
        return cls(user=request.user)


SYSTEM = Actor()


def audit(actor: Actor, verb: str, obj: Any, project: Project | None, **data: Any) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label,
        verb=verb,
        project=project,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        data=data,
    )


# -- releases -------------------------------------------------------------------------------------


_HEX = re.compile(r"[0-9a-fA-F]+")


def create_release(
    project: Project,
    *,
    commit: str,
    files: Sequence[tuple[str, bytes]],
    branch: str = "",
    title: str = "",
    vcs: dict | None = None,
    actor: Actor = SYSTEM,
) -> tuple[Release, bool]:
    """Validate and store an immutable release, and plan its rollout. (release, created):
    the same commit again returns the release it made the first time."""
    vcs = dict(vcs or {})
    if _HEX.fullmatch(commit):
        commit = commit.lower()  # one commit, however a CI spells its SHA: one release
    existing = project.releases.filter(commit_sha=commit).first()
    if existing is not None:
        return _same_release(existing, files), False
    try:
        migrations = load_files(files)
    except LoadError as exc:
        raise Refused(
            f"{len(exc.problems)} file(s) are not valid migrations: nothing was stored",
            code="invalid_files", status=422, details=[_problem(p) for p in exc.problems],
        ) from None
    too_long = _too_long(migrations)
    if too_long:
        raise Refused(f"{len(too_long)} file name(s) are too long to store: nothing was stored",
                      code="invalid_files", status=422, details=[_problem(p) for p in too_long])
    previous = project.releases.order_by("-created_at", "-pk").first()
    # By version key, as the runner compares them: 001_init.sql and 1_init.sql are one version.
    before = {
        version_key(rf.version): rf for rf in previous.files.only("version", "path", "checksum")
    } if previous else {}
    edited = [
        FileProblem(m.path, f"version {m.version} was released in {previous.uid} as {before[m.key].path} "
                    "with other content: databases that applied it would never run the edit. Revert the edit "
                    "and put the change in a new migration", line=1)
        for m in migrations
        if m.key in before and before[m.key].checksum != m.checksum
    ]
    if edited:
        raise Refused(f"{len(edited)} released file(s) were edited: nothing was stored", code="invalid_files",
                      status=422, details=[_problem(p) for p in edited])
    newest = max(before, default=None)
    late = [m for m in migrations if m.key not in before and newest is not None and m.key < newest]
    if late and not project.allow_out_of_order:
        # The runner refuses them wherever the previous release was applied (design §3): say so now.
        newest_path = before[newest].path
        raise Refused(
            f"{len(late)} new file(s) are out of order: older than {newest_path} of {previous.uid}: nothing was "
            "stored", code="invalid_files", status=422,
            details=[_problem(FileProblem(m.path, f"version {m.version} is older than version "
                                          f"{before[newest].version} ({newest_path}) of {previous.uid}: rename it "
                                          "to a newer version, or allow out-of-order for this project"))
                     for m in late],
        )
    keys = {m.key for m in migrations}
    missing = sorted(rf.path for key, rf in before.items() if key not in keys)
    for attempt in range(5):
        try:
            with transaction.atomic():
                release = Release.objects.create(
                    project=project,
                    uid=_next_uid(),
                    commit_sha=commit,
                    branch=branch,
                    title=title,
                    pull_request=str(vcs.get("pr") or vcs.get("pull_request") or ""),
                    author=str(vcs.get("author") or ""),
                    author_email=str(vcs.get("author_email") or ""),
                    vcs=vcs,
                    created_by=actor.label,
                )
                ReleaseFile.objects.bulk_create([
                    ReleaseFile(
                        release=release, path=m.path, version=m.version, description=m.description, kind=m.kind,
                        checksum=m.checksum, content=m.sql, is_new=m.key not in before,
                    )
                    for m in migrations
                ])
                # A file of the previous release that this one lacks is not applied where it is
                # deployed first (a CI glob or checkout that missed it?): on record, not refused.
                audit(actor, "release.create", release, project, commit=commit, files=len(migrations),
                      new=sum(m.key not in before for m in migrations), missing=missing)
                rollout = _plan_rollout(release, actor)
            break
        except IntegrityError:
            # A concurrent request stored the same commit first, or took the uid: then try the next one.
            existing = project.releases.filter(commit_sha=commit).first()
            if existing is not None:
                return _same_release(existing, files), False
            if attempt == 4:
                raise
    advance(rollout.pk)
    return release, True


def _problem(problem: FileProblem) -> dict:
    return {key: value for key, value in problem.as_dict().items() if value is not None}


def _too_long(migrations: Sequence[MigrationFile]) -> list[FileProblem]:
    """Names a ReleaseFile cannot hold (PostgreSQL and MySQL would fail the insert, or cut it)."""
    limits = {name: ReleaseFile._meta.get_field(name).max_length for name in ("path", "version", "description")}
    return [
        FileProblem(m.path, f"the {name} is {len(getattr(m, name))} characters long: at most {limit} fit")
        for m in migrations
        for name, limit in limits.items()
        if len(getattr(m, name)) > limit
    ]


def _same_release(release: Release, files: Sequence[tuple[str, bytes]]) -> Release:
    from releases.loader import checksum, decode

    stored = {rf.path: rf.checksum for rf in release.files.all()}
    given = {}
    for path, data in files:
        try:
            given[path] = checksum(decode(path, data))
        except FileProblem:
            given[path] = None
    if given != stored:
        raise Refused(
            f"commit {release.commit_sha} was already released as {release.uid} with other files: a release "
            "is immutable (post the new commit instead)", code="release_conflict", status=409,
        )
    return release


def _next_uid() -> str:
    """rel-YYYYMMDD-NN: the date, then a counter (unique across projects, so a uid names one release)."""
    prefix = f"rel-{timezone.now():%Y%m%d}-"
    taken = Release.objects.filter(uid__startswith=prefix).values_list("uid", flat=True)
    numbers = [int(uid[len(prefix):]) for uid in taken if uid[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:02d}"


def redeploy(release: Release, actor: Actor) -> Rollout:
    """A new rollout of a release (its previous rollouts must be finished)."""
    check_release_operator(release.project, actor)
    with transaction.atomic():
        Release.objects.select_for_update().get(pk=release.pk)
        if release.rollouts.filter(status__in=RolloutStatus.ACTIVE).exists():
            raise Refused(f"{release.uid} is still rolling out: cancel that rollout first", code="rollout_active")
        rollout = _plan_rollout(release, actor)
    advance(rollout.pk)
    rollout.refresh_from_db()
    return rollout


def _plan_rollout(release: Release, actor: Actor) -> Rollout:
    rollout = Rollout.objects.create(release=release)
    for environment in release.project.environments.order_by("order", "slug"):
        stage = Stage.objects.create(rollout=rollout, environment=environment, order=environment.order)
        # The plan as of now; a stage whose environment uses groups resolves them again when it starts.
        Task.objects.bulk_create([Task(stage=stage, database=db) for db in resolve_targets(environment)])
    audit(actor, "rollout.create", rollout, release.project, release=release.uid)
    return rollout


# -- targets ---------------------------------------------------------------------------------------


def resolve_targets(environment: Environment) -> list[Database]:
    """The environment's groups' members (union), or all its databases when it has no groups."""
    groups = list(environment.groups.all())
    if not groups:
        return list(environment.databases.order_by("name"))
    members: dict[int, Database] = {}
    for group in groups:
        for database in group.resolve():
            members.setdefault(database.pk, database)
    return sorted(members.values(), key=lambda d: d.name)


def targets_fingerprint(databases: Iterable[Database]) -> str:
    """What an approval is given for: each database's id and name, and where it points (engine,
    host, port, database, user, from the URL as parsed; never the password, which is not in
    `url`), so that re-pointing a database after the approval asks for a new one."""
    return hashlib.sha256("\n".join(sorted(_target_identity(d) for d in databases)).encode()).hexdigest()


def _target_identity(database: Database) -> str:
    try:
        target = parse_target(database.url)
    except TargetError:
        where: list = ["invalid url"]  # the task fails to connect; fixing the URL then needs a new approval
    else:
        where = [target.engine, target.host, target.port, target.database, target.user]
    return json.dumps([database.pk, database.name, *where])


# -- gates -----------------------------------------------------------------------------------------


def _earlier_not_passed(stage: Stage) -> Stage | None:
    return (
        stage.rollout.stages.filter(order__lt=stage.order).exclude(status__in=StageStatus.PASSED)
        .order_by("order").first()
    )


def is_author(user: Any, release: Release) -> bool:
    if user is None or not getattr(user, "pk", None):
        return False
    if release.author_email and user.email and release.author_email.lower() == user.email.lower():
        return True
    if release.author:
        # Through .all(): the API's listing prefetches the identities (a fixed number of queries).
        return any(i.login.lower() == release.author.lower() for i in user.vcs_identities.all())
    return False


def check_approver(stage: Stage, actor: Actor) -> None:
    """Raise Refused (403) unless the actor may approve or reject this stage."""
    environment = stage.environment
    if actor.token is not None:
        if actor.token.project_id != environment.project_id:
            # A grant the admin's form lets anyone pick: a project's token acts on that project only.
            raise Refused(f"token {actor.token.name} belongs to project {actor.token.project.slug}: it may not "
                          f"approve environment {environment.slug}", code="not_an_approver", status=403)
        if not actor.token.is_active:
            raise Refused(f"token {actor.token.name} is revoked", code="not_an_approver", status=403)
        if environment.pk not in {e.pk for e in actor.token.approve_environments.all()}:
            raise Refused(f"token {actor.token.name} is not granted approve on environment {environment.slug}",
                          code="not_an_approver", status=403)
        return
    user = actor.user
    if user is None or not user.is_authenticated or not user.is_active:
        raise Refused("approving needs a signed-in user or a token granted approve", code="not_an_approver",
                      status=403)
    group = environment.approver_group
    if group is None:
        raise Refused(f"environment {environment.slug} has no approver group: nobody may approve it",
                      code="not_an_approver", status=403)
    if group.pk not in {g.pk for g in user.groups.all()}:
        raise Refused(f"{user.get_username()} is not in {group.name}, the approver group of {environment.slug}",
                      code="not_an_approver", status=403)
    if not environment.allow_self_approval and is_author(user, stage.rollout.release):
        raise Refused(f"{user.get_username()} is the author of {stage.rollout.release.uid} and {environment.slug} "
                      "does not allow self-approval", code="self_approval", status=403)


def check_operator(stage: Stage, actor: Actor) -> None:
    """Retry, skip and start need an approver of the stage's environment or a staff user."""
    if actor.user is not None and actor.user.is_authenticated and actor.user.is_staff and actor.token is None:
        return
    check_approver(stage, actor)


def check_release_operator(project: Project, actor: Actor) -> None:
    """Cancel and re-deploy: a token of the project with the `release` scope, a staff user, or a
    member of the approver group of one of the project's environments (or the server's own code)."""
    if actor == SYSTEM:
        return
    if actor.token is not None:
        if actor.token.project_id != project.pk or "release" not in actor.token.scopes:
            raise Refused(f"token {actor.token.name} needs the 'release' scope of project {project.slug}",
                          code="not_an_operator", status=403)
        return
    user = actor.user
    if user is None or not user.is_authenticated or not user.is_active:
        raise Refused("this action needs a signed-in user or a token", code="not_an_operator", status=403)
    if user.is_staff:
        return
    groups = project.environments.exclude(approver_group=None).values_list("approver_group", flat=True)
    if not user.groups.filter(pk__in=groups).exists():
        raise Refused(f"{user.get_username()} is neither staff nor an approver of project {project.slug}",
                      code="not_an_operator", status=403)


def _still_counts(stage: Stage, approval: Approval) -> bool:
    """Whether the approval's giver may still approve the stage: one who left the approver group,
    was deactivated, or whose token was revoked or lost its grant, no longer counts (design §1).
    The API's `approvals[].valid` asks the same (with the givers' groups and grants prefetched)."""
    try:
        check_approver(stage, Actor(user=approval.user, token=approval.token))
    except Refused:
        return False
    return True


def approval_counts(stage: Stage, approval: Approval, fingerprint: str) -> bool:
    """Whether the gate counts this approval now: given for the targets as they are now resolved
    (`fingerprint`), by someone who may still approve the stage."""
    return (approval.decision == Decision.APPROVE and approval.targets_fingerprint == fingerprint
            and _still_counts(stage, approval))


def _approver_key(approval: Approval) -> str:
    return f"user:{approval.user_id}" if approval.user_id else f"token:{approval.token_id}"


def _judged_versions(stage: Stage, dialects: list[str]) -> set[tuple]:
    """The versions this environment's review has already let through: the files of every release
    whose stage here had a clean review for these `dialects`, or one an approver overrode. A release
    blocked here leaves its files unjudged, so a later release that carries them again is reviewed
    for them too (not only for what is new since the previous release, which would let a blocked
    DROP through); so does one reviewed for no target, or for other engines only."""
    # Only the three keys of each review, not its findings: the history grows with every release.
    passed = {
        release_id
        for release_id, errors, problem, reviewed, override in Stage.objects.filter(environment=stage.environment)
        .exclude(pk=stage.pk).exclude(review={})
        .values_list("rollout__release_id", "review__errors", "review__problem", "review__dialects",
                     "review_override_reason")
        if override or (not errors and not problem and set(dialects) <= set(reviewed or ()))
    }
    versions = ReleaseFile.objects.filter(release_id__in=passed).values_list("version", flat=True).distinct()
    return {version_key(v) for v in versions}


def _review_stage(stage: Stage) -> dict:
    """Review, against the environment's policy (once per stage), the release's files that this
    environment's review has not let through before (_judged_versions)."""
    from reviews.engine import Policy, review_files
    from reviews.policy_io import fallback_row, policy_from_model

    environment = stage.environment
    stored = environment.review_policy or environment.project.default_policy or fallback_row()
    try:
        policy = policy_from_model(stored) if stored is not None else Policy.recommended()
    except ValueError as exc:
        return {"policy": stored.name, "errors": 1, "findings": [], "problem": f"the review policy is invalid: {exc}"}
    databases = resolve_targets(environment)
    dialects = list(dict.fromkeys(DIALECT_OF_ENGINE[d.engine] for d in databases))
    judged = _judged_versions(stage, dialects)
    release_files = stage.rollout.release.files
    unjudged = [pk for pk, version in release_files.values_list("pk", "version") if version_key(version) not in judged]
    files = [(rf.path, rf.content) for rf in release_files.filter(pk__in=unjudged).order_by("pk")]
    review = {"policy": policy.name, "files": len(files), "dialects": dialects, "errors": 0, "warnings": 0,
              "findings": []}
    for dialect in dialects if files else []:
        result = review_files(files, dialect, policy)
        for finding in result.findings:
            if finding.suppressed:
                continue
            if finding.severity == "warning":
                review["warnings"] += 1
            if finding.severity != "error":
                continue
            review["errors"] += 1
            if len(review["findings"]) < REVIEW_FINDINGS_KEPT:
                review["findings"].append({"rule": finding.rule, "file": finding.file, "line": finding.line,
                                           "column": finding.column, "message": finding.message,
                                           "dialect": dialect})
    return review


@dataclasses.dataclass
class Gate:
    open: bool
    status: str = StageStatus.WAITING
    reason: str = ""


def gate(stage: Stage, targets: list[Database]) -> Gate:
    """Whether the stage may start now (its earlier stages are known to have passed)."""
    environment = stage.environment
    approvals = list(stage.approvals.select_related("user", "token__project"))
    rejections = [a for a in approvals if a.decision == Decision.REJECT]
    if rejections:
        first = rejections[0]
        who = Actor(user=first.user, token=first.token).label
        return Gate(False, StageStatus.BLOCKED, f"rejected by {who}: a new release is needed")
    if not targets:
        return Gate(False, StageStatus.BLOCKED,
                    f"no target database: {environment.slug} has none, or its groups match none. Add one or fix the "
                    "groups, or skip the stage")
    if stage.review.get("errors") and not stage.review_override_reason:
        problem = stage.review.get("problem") or f"{stage.review['errors']} error-level review finding(s)"
        return Gate(False, StageStatus.BLOCKED,
                    f"{problem} on the new files under policy {stage.review.get('policy')}: an approver may "
                    "override with a written reason")
    if environment.rollout == RolloutMode.MANUAL:
        fingerprint = targets_fingerprint(targets)
        valid = {_approver_key(a) for a in approvals if approval_counts(stage, a, fingerprint)}
        needed = max(environment.required_approvals, 1)
        if len(valid) < needed:
            stale = any(a.decision == Decision.APPROVE and a.targets_fingerprint != fingerprint for a in approvals)
            reason = f"{len(valid)} of {needed} approval(s)"
            lapsed = {_approver_key(a) for a in approvals if a.decision == Decision.APPROVE
                      and a.targets_fingerprint == fingerprint} - valid
            if lapsed:
                reason += f"; {len(lapsed)} no longer count (the approver may no longer approve {environment.slug})"
            if stale:
                reason += "; the target databases changed since an earlier approval: approve again"
            return Gate(False, StageStatus.AWAITING_APPROVAL, reason)
    return Gate(True)


# -- the scheduler ---------------------------------------------------------------------------------


def advance(rollout_id: int) -> None:
    """Move a rollout as far as its gates allow: start stages, queue tasks up to the
    concurrency limit, finish stages and the rollout. Idempotent; called after every event.

    A stage's review is CPU work done outside the rollout's lock (on a SQLite control database
    that lock is the whole database's write lock): reaching an unreviewed stage ends the locked
    pass, the review runs, and the next pass goes on from there."""
    while (unreviewed := advance_pass(rollout_id)) is not None:
        fields: dict = {"review": _review_stage(unreviewed)}  # two racing: same result
        if unreviewed.review:
            # Reviewed again (a database of another engine joined): an override was written for the
            # findings it saw, not for the new ones (the audit log keeps it).
            fields.update(review_override_reason="", review_override_by=None)
        Stage.objects.filter(pk=unreviewed.pk).update(**fields)


def advance_pass(rollout_id: int) -> Stage | None:
    """One pass under the rollout's lock; returns the stage that needs its review first, if any
    (then call `advance`, outside any transaction). It may run inside the caller's transaction
    (a finishing task's own, so that its end is one write): tasks are queued on commit."""
    queued: list[int] = []
    unreviewed = None
    with transaction.atomic():
        rollout = Rollout.objects.select_for_update().select_related("release__project").get(pk=rollout_id)
        if rollout.status in RolloutStatus.TERMINAL and rollout.status != RolloutStatus.FAILED:
            return None
        stages = list(rollout.stages.select_related("environment__project", "environment__approver_group")
                      .order_by("order"))
        now = timezone.now()
        outcome = RolloutStatus.SUCCEEDED
        for stage in stages:
            stage.rollout = rollout
            if stage.status in StageStatus.PASSED:
                continue
            if stage.status == StageStatus.CANCELLED:
                outcome = RolloutStatus.CANCELLED
                break
            if stage.status in (StageStatus.WAITING, StageStatus.AWAITING_APPROVAL, StageStatus.BLOCKED,
                                StageStatus.READY):
                if rollout.status == RolloutStatus.FAILED:
                    outcome = RolloutStatus.FAILED
                    break
                if not stage.review:
                    unreviewed, outcome = stage, RolloutStatus.RUNNING
                    break
                targets = resolve_targets(stage.environment)
                if _review_misses(stage, targets):
                    unreviewed, outcome = stage, RolloutStatus.RUNNING
                    break
                decision = gate(stage, targets)
                if not decision.open:
                    if (stage.status, stage.error) != (decision.status, decision.reason):
                        stage.status, stage.error = decision.status, decision.reason
                        stage.save(update_fields=["status", "error"])
                    outcome = RolloutStatus.RUNNING
                    break
                _start_stage(stage, targets, now)
            # RUNNING or FAILED (a retry may have re-opened tasks)
            state = _progress_stage(stage, now, queued)
            if state == StageStatus.SUCCEEDED:
                continue
            outcome = RolloutStatus.FAILED if state == StageStatus.FAILED else RolloutStatus.RUNNING
            break
        _set_rollout_status(rollout, outcome, now)
        for task_id in queued:
            transaction.on_commit(lambda task_id=task_id: enqueue(task_id))
    return unreviewed


def _review_misses(stage: Stage, targets: list[Database]) -> bool:
    """Whether a target's engine was not reviewed for: the stage was reviewed when it had no
    target (a group matching none, reviewed for nothing) or before a database of another engine
    joined. Then the stage is reviewed again before it may start."""
    if stage.review.get("problem"):
        return False  # the policy itself is invalid: the gate stays closed whatever the targets
    return not {DIALECT_OF_ENGINE[d.engine] for d in targets} <= set(stage.review.get("dialects", ()))


def _set_rollout_status(rollout: Rollout, status: str, now) -> None:
    fields = []
    if rollout.status != status:
        rollout.status = status
        fields.append("status")
    if status != RolloutStatus.PENDING and rollout.started_at is None:
        rollout.started_at = now
        fields.append("started_at")
    finished = now if status in RolloutStatus.TERMINAL else None
    if (rollout.finished_at is None) != (finished is None):
        rollout.finished_at = finished
        fields.append("finished_at")
    if fields:
        rollout.save(update_fields=fields)


def _start_stage(stage: Stage, targets: list[Database], now) -> None:
    wanted = {d.pk: d for d in targets}
    have = {t.database_id: t for t in stage.tasks.all()}
    removed = [t.pk for db, t in have.items() if db not in wanted and t.status == TaskStatus.PENDING]
    Task.objects.filter(pk__in=removed).delete()
    Task.objects.bulk_create([Task(stage=stage, database=d) for pk, d in wanted.items() if pk not in have])
    stage.resolved_targets = [
        {"id": d.pk, "name": d.name, "engine": d.engine} for d in sorted(targets, key=lambda d: d.name)
    ]
    stage.status = StageStatus.RUNNING
    stage.started_at = now
    stage.error = ""
    stage.save(update_fields=["resolved_targets", "status", "started_at", "error"])
    audit(SYSTEM, "stage.start", stage, stage.environment.project, release=stage.rollout.release.uid,
          environment=stage.environment.slug, targets=[d.name for d in targets])


def _progress_stage(stage: Stage, now, queued: list[int]) -> str:
    """Queue tasks up to the concurrency limit (or cancel the rest after a failure, under `stop`)
    and work out the stage's state. Counts, not task lists: it runs after every task."""
    counts = _status_counts(stage)
    failed = counts.get(TaskStatus.FAILED, 0)
    if failed and stage.environment.failure_policy == FailurePolicy.STOP:
        if counts.get(TaskStatus.PENDING, 0) + counts.get(TaskStatus.QUEUED, 0):
            first = stage.tasks.filter(status=TaskStatus.FAILED).values_list("database__name", flat=True).first()
            # Only databases never tried: a task that has run before is pending again because an
            # operator retried it, and runs although another database of the stage failed too.
            if stage.tasks.filter(status__in=(TaskStatus.PENDING, TaskStatus.QUEUED), attempts=0).update(
                    status=TaskStatus.CANCELLED, cancelled_by=CancelledBy.FAILURE_POLICY, finished_at=now,
                    error=f"not run: {first} failed and the stage's failure policy is stop"):
                counts = _status_counts(stage)
    if counts.get(TaskStatus.PENDING, 0):
        free = max(stage.environment.concurrency, 1) - sum(counts.get(s, 0) for s in TaskStatus.ACTIVE)
        if free > 0:
            for pk in stage.tasks.filter(status=TaskStatus.PENDING).order_by("database__name").values_list(
                    "pk", flat=True)[:free]:
                if Task.objects.filter(pk=pk, status=TaskStatus.PENDING).update(status=TaskStatus.QUEUED,
                                                                                queued_at=now):
                    counts[TaskStatus.PENDING] -= 1
                    counts[TaskStatus.QUEUED] = counts.get(TaskStatus.QUEUED, 0) + 1
                    queued.append(pk)
    if any(n for status, n in counts.items() if status not in TaskStatus.TERMINAL):
        state = StageStatus.RUNNING
    elif counts.get(TaskStatus.FAILED, 0) or counts.get(TaskStatus.CANCELLED, 0):
        state = StageStatus.FAILED
    else:
        state = StageStatus.SUCCEEDED
    if state != stage.status or (state == StageStatus.RUNNING) != (stage.finished_at is None):
        stage.status = state
        stage.finished_at = None if state == StageStatus.RUNNING else now
        if state == StageStatus.FAILED:
            names = ", ".join(stage.tasks.filter(status=TaskStatus.FAILED).order_by("database__name")
                              .values_list("database__name", flat=True))
            stage.error = f"failed on {names}" if names else "tasks were cancelled"
        elif state == StageStatus.SUCCEEDED:
            stage.error = ""
        stage.save(update_fields=["status", "finished_at", "error"])
    return state


def _status_counts(stage: Stage) -> dict[str, int]:
    return dict(stage.tasks.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


def enqueue(task_id: int) -> None:
    from django_q.tasks import async_task

    async_task("releases.tasks.run_task", task_id, task_name=f"sluice-task-{task_id}", group="sluice-tasks")


# -- approvals and operator actions ----------------------------------------------------------------


def stage_of(release: Release, environment_slug: str) -> Stage:
    """The stage of an environment in the release's latest rollout."""
    rollout = release.rollouts.order_by("-created_at", "-pk").first()
    stage = rollout.stages.filter(environment__slug=environment_slug).first() if rollout else None
    if stage is None:
        raise Refused(f"{release.uid} has no stage for environment {environment_slug!r}", code="not_found",
                      status=404)
    return stage


def _lock(stage: Stage) -> Stage:
    """Re-read the stage with its rollout locked (inside transaction.atomic)."""
    Rollout.objects.select_for_update().get(pk=stage.rollout_id)
    return Stage.objects.select_related("rollout__release__project", "environment__approver_group").get(pk=stage.pk)


def _decide(stage: Stage, actor: Actor, decision: str, comment: str, override_reason: str = "") -> Approval:
    with transaction.atomic():
        stage = _lock(stage)  # permissions are judged on fresh rows, not on the caller's copy
        check_approver(stage, actor)
        rollout = stage.rollout
        if rollout.status in RolloutStatus.TERMINAL and rollout.status != RolloutStatus.FAILED:
            raise Refused(f"the rollout of {rollout.release.uid} is {rollout.status}", code="rollout_finished")
        earlier = _earlier_not_passed(stage)
        if earlier is not None:
            raise Refused(f"{earlier.environment.slug} has not succeeded yet ({earlier.status}): "
                          f"{stage.environment.slug} cannot be {decision}d before it", code="out_of_order")
        if stage.status not in (StageStatus.WAITING, StageStatus.AWAITING_APPROVAL, StageStatus.BLOCKED,
                                StageStatus.READY):
            raise Refused(f"stage {stage.environment.slug} is already {stage.status}", code="stage_started")
        if stage.approvals.filter(decision=Decision.REJECT).exists():
            raise Refused(f"stage {stage.environment.slug} was rejected: a new release is needed",
                          code="stage_rejected")
        targets = resolve_targets(stage.environment)
        fingerprint = targets_fingerprint(targets)
        mine = stage.approvals.filter(
            user=actor.user if actor.token is None else None, token=actor.token, decision=decision,
            targets_fingerprint=fingerprint,
        )
        if decision == Decision.APPROVE and mine.exists():
            raise Refused(f"{actor.label} has already approved {stage.environment.slug}", code="already_approved")
        approval = Approval.objects.create(
            stage=stage, user=actor.user if actor.token is None else None, token=actor.token, decision=decision,
            comment=comment, targets_fingerprint=fingerprint,
        )
        audit(actor, f"stage.{decision}", stage, stage.environment.project, release=rollout.release.uid,
              environment=stage.environment.slug, comment=comment,
              targets=[d.name for d in targets])
        if override_reason:
            _override(stage, actor, override_reason)
    advance(stage.rollout_id)
    return approval


def _override(stage: Stage, actor: Actor, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise Refused("overriding the review needs a written reason", code="reason_required", status=400)
    stage.review_override_reason = reason
    stage.review_override_by = actor.user if actor.token is None else None
    stage.save(update_fields=["review_override_reason", "review_override_by"])
    audit(actor, "stage.review-override", stage, stage.environment.project, reason=reason,
          errors=stage.review.get("errors", 0), release=stage.rollout.release.uid)


def approve(stage: Stage, actor: Actor, comment: str = "", override_review: str = "") -> Approval:
    return _decide(stage, actor, Decision.APPROVE, comment, override_review)


def reject(stage: Stage, actor: Actor, comment: str = "") -> Approval:
    return _decide(stage, actor, Decision.REJECT, comment)


def run_stage(stage: Stage, actor: Actor, override_review: str = "") -> Stage:
    """Ask the stage to start now: its gates still apply (an approver may override the review)."""
    with transaction.atomic():
        stage = _lock(stage)
        check_operator(stage, actor)
        rollout = stage.rollout
        if rollout.status in RolloutStatus.TERMINAL and rollout.status != RolloutStatus.FAILED:
            raise Refused(f"the rollout of {rollout.release.uid} is {rollout.status}", code="rollout_finished")
        earlier = _earlier_not_passed(stage)
        if earlier is not None:
            raise Refused(f"{earlier.environment.slug} has not succeeded yet ({earlier.status}): "
                          f"{stage.environment.slug} cannot start before it", code="out_of_order")
        if override_review:
            check_approver(stage, actor)
            _override(stage, actor, override_review)
        audit(actor, "stage.run", stage, stage.environment.project, release=stage.rollout.release.uid)
    advance(stage.rollout_id)
    stage.refresh_from_db()
    if stage.status not in (StageStatus.RUNNING, *StageStatus.TERMINAL):
        raise Refused(f"stage {stage.environment.slug} cannot start: {stage.error or stage.status}",
                      code="gate_closed")
    return stage


def skip_stage(stage: Stage, actor: Actor, reason: str) -> Stage:
    if not reason.strip():
        raise Refused("skipping a stage needs a written reason", code="reason_required", status=400)
    with transaction.atomic():
        stage = _lock(stage)
        check_operator(stage, actor)
        if stage.status in StageStatus.TERMINAL or stage.status == StageStatus.RUNNING:
            raise Refused(f"stage {stage.environment.slug} is {stage.status}: only a stage that has not started "
                          "can be skipped", code="stage_started")
        earlier = _earlier_not_passed(stage)
        if earlier is not None:
            raise Refused(f"{earlier.environment.slug} has not succeeded yet: skip it first", code="out_of_order")
        stage.status = StageStatus.SKIPPED
        stage.finished_at = timezone.now()
        stage.error = f"skipped by {actor.label}: {reason}"
        stage.save(update_fields=["status", "finished_at", "error"])
        stage.tasks.filter(status=TaskStatus.PENDING).update(status=TaskStatus.SKIPPED, error=stage.error)
        audit(actor, "stage.skip", stage, stage.environment.project, reason=reason,
              release=stage.rollout.release.uid)
    advance(stage.rollout_id)
    return stage


def retry_task(task: Task, actor: Actor) -> Task:
    """A failed task (or one orphaned by a dead worker) runs again. In a stage stopped by its
    failure policy, the tasks that policy cancelled run again too."""
    stage = task.stage
    with transaction.atomic():
        stage = _lock(stage)
        check_operator(stage, actor)
        task = Task.objects.select_related("database").get(pk=task.pk)
        if stage.rollout.status == RolloutStatus.CANCELLED:
            raise Refused("the rollout was cancelled", code="rollout_finished")
        _refuse_if_superseded(stage.rollout, f"task {task.pk}")
        now = timezone.now()
        if task.status == TaskStatus.RUNNING:
            reason = orphan_reason(task)
            if reason is None:
                raise Refused(f"task {task.pk} is running (worker {task.worker}, alive): wait for it",
                              code="task_running")
            _mark_orphaned(task, reason, now)
        elif task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            raise Refused(f"task {task.pk} is {task.status}: only a failed or orphaned task can be retried",
                          code="task_not_failed")
        elif task.status == TaskStatus.CANCELLED and task.cancelled_by == CancelledBy.OPERATOR:
            raise Refused("the task was cancelled with its rollout", code="task_cancelled")
        reopened = [task.pk]
        reopened += list(stage.tasks.filter(status=TaskStatus.CANCELLED, cancelled_by=CancelledBy.FAILURE_POLICY)
                         .values_list("pk", flat=True))
        Task.objects.filter(pk__in=reopened).update(status=TaskStatus.PENDING, cancelled_by="", error="",
                                                    finished_at=None, queued_at=None)
        _reopen(stage)
        audit(actor, "task.retry", task, stage.environment.project, database=task.database.name,
              release=stage.rollout.release.uid, reopened=len(reopened))
    advance(stage.rollout_id)
    task.refresh_from_db()
    return task


def _newer_rollout(rollout: Rollout) -> Rollout | None:
    return rollout.release.rollouts.filter(pk__gt=rollout.pk).order_by("pk").first()


def _refuse_if_superseded(rollout: Rollout, what: str) -> None:
    """A task of a rollout that a re-deploy replaced stays as it ended: retrying or skipping it
    would re-open that rollout next to the newer one (two rollouts of one release at once).
    The release row is locked too, so that a re-deploy cannot slip in between (redeploy locks it)."""
    Release.objects.select_for_update().get(pk=rollout.release_id)
    newer = _newer_rollout(rollout)
    if newer is not None:
        raise Refused(f"{what} belongs to rollout {rollout.pk} of {rollout.release.uid}, which rollout {newer.pk} "
                      "(a re-deploy) replaced: act on the newer rollout's task instead", code="rollout_superseded")


def _reopen(stage: Stage) -> None:
    """A task of a failed stage was retried or skipped: the stage, and its rollout, run again."""
    if stage.status == StageStatus.FAILED:
        Stage.objects.filter(pk=stage.pk).update(status=StageStatus.RUNNING, finished_at=None)
    if stage.rollout.status == RolloutStatus.FAILED:
        Rollout.objects.filter(pk=stage.rollout_id).update(status=RolloutStatus.RUNNING, finished_at=None)


def skip_task(task: Task, actor: Actor, reason: str) -> Task:
    stage = task.stage
    if not reason.strip():
        raise Refused("skipping a task needs a written reason", code="reason_required", status=400)
    with transaction.atomic():
        stage = _lock(stage)
        check_operator(stage, actor)
        task = Task.objects.select_related("database").get(pk=task.pk)
        _refuse_if_superseded(stage.rollout, f"task {task.pk}")
        if task.status not in (TaskStatus.PENDING, TaskStatus.FAILED, TaskStatus.CANCELLED):
            raise Refused(f"task {task.pk} is {task.status}: only a pending, failed or cancelled task can be "
                          "skipped", code="task_not_skippable")
        Task.objects.filter(pk=task.pk).update(status=TaskStatus.SKIPPED, finished_at=timezone.now(),
                                               error=f"skipped by {actor.label}: {reason}")
        _reopen(stage)
        audit(actor, "task.skip", task, stage.environment.project, database=task.database.name, reason=reason,
              release=stage.rollout.release.uid)
    advance(stage.rollout_id)
    task.refresh_from_db()
    return task


def cancel_rollout(rollout: Rollout, actor: Actor, reason: str = "") -> Rollout:
    """Pending and queued tasks are cancelled; running ones finish the file they are on."""
    with transaction.atomic():
        rollout = Rollout.objects.select_for_update().select_related("release__project").get(pk=rollout.pk)
        check_release_operator(rollout.release.project, actor)
        if rollout.status in (RolloutStatus.SUCCEEDED, RolloutStatus.CANCELLED):
            raise Refused(f"the rollout of {rollout.release.uid} is already {rollout.status}",
                          code="rollout_finished")
        now = timezone.now()
        Task.objects.filter(stage__rollout=rollout, status__in=(TaskStatus.PENDING, TaskStatus.QUEUED)).update(
            status=TaskStatus.CANCELLED, cancelled_by=CancelledBy.OPERATOR, finished_at=now,
            error=f"cancelled by {actor.label}")
        rollout.stages.exclude(status__in=StageStatus.TERMINAL).exclude(status=StageStatus.RUNNING).update(
            status=StageStatus.CANCELLED, finished_at=now)
        rollout.status = RolloutStatus.CANCELLED
        rollout.finished_at = now
        rollout.error = f"cancelled by {actor.label}" + (f": {reason}" if reason else "")
        rollout.save(update_fields=["status", "finished_at", "error"])
        audit(actor, "rollout.cancel", rollout, rollout.release.project, reason=reason,
              release=rollout.release.uid)
    return rollout


def finish_cancelled_stages(rollout_id: int) -> None:
    """After a cancel, a running stage ends when its last running task has stopped."""
    if not Rollout.objects.filter(pk=rollout_id, status=RolloutStatus.CANCELLED).exists():
        return
    now = timezone.now()
    for stage in Stage.objects.filter(rollout_id=rollout_id, status=StageStatus.RUNNING):
        if not stage.tasks.filter(status__in=TaskStatus.ACTIVE).exists():
            Stage.objects.filter(pk=stage.pk, status=StageStatus.RUNNING).update(
                status=StageStatus.CANCELLED, finished_at=now)


# -- orphans -----------------------------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def orphan_reason(task: Task, now=None) -> str | None:
    """Why a RUNNING task's worker is known to be gone, or None while it may be alive."""
    if task.status != TaskStatus.RUNNING:
        return None
    now = now or timezone.now()
    host, _, pid = task.worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return f"worker {task.worker} is gone (process {pid} does not exist)"
    limit = timedelta(seconds=settings.SLUICE_ORPHAN_SECONDS)
    beat = task.heartbeat_at or task.started_at
    if beat is None or now - beat > limit:
        return f"worker {task.worker} stopped: no heartbeat for more than {limit.total_seconds():.0f} s"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process nobody has reaped yet (a zombie) still answers kill(0)
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _mark_orphaned(task: Task, reason: str, now) -> bool:
    changed = Task.objects.filter(pk=task.pk, status=TaskStatus.RUNNING, attempts=task.attempts).update(
        status=TaskStatus.FAILED, finished_at=now, error=f"orphaned: {reason}")
    if changed:
        TaskRun.objects.filter(task=task, attempt=task.attempts, status=TaskStatus.RUNNING).update(
            status=TaskStatus.FAILED, finished_at=now, error=f"orphaned: {reason}")
        audit(SYSTEM, "task.orphaned", task, task.stage.environment.project, reason=reason,
              database=task.database.name)
    return bool(changed)


def record_late_finish(task_id: int, attempt: int, status: str, finished, error: str) -> bool:
    """An attempt declared orphaned (its worker looked dead) finished after all: unless a retry has
    taken the task over, the task says how it really ended (the target's history has it), and a
    stage failed only by that verdict runs on. Tasks that the stop policy cancelled meanwhile stay
    cancelled: a person retries them. Call inside the finishing transaction; False if not so."""
    task = Task.objects.select_related("stage", "database").get(pk=task_id)
    stage = _lock(task.stage)
    changed = Task.objects.filter(pk=task_id, attempts=attempt, status=TaskStatus.FAILED,
                                  error__startswith="orphaned:").update(
        status=status, finished_at=finished, error=error[:10_000],
        cancelled_by=CancelledBy.OPERATOR if status == TaskStatus.CANCELLED else "")
    if not changed:
        return False
    audit(SYSTEM, "task.late-finish", task, stage.environment.project, status=status, attempt=attempt,
          database=task.database.name, release=stage.rollout.release.uid)
    rollout = stage.rollout
    if (status == TaskStatus.SUCCEEDED and rollout.status != RolloutStatus.CANCELLED
            and _newer_rollout(rollout) is None):
        _reopen(stage)
    return True


def sweep() -> dict:
    """Find orphaned running tasks (marked failed: a person retries them) and queued tasks
    whose queue message was lost (queued again: a second delivery is harmless). Then advance."""
    now = timezone.now()
    touched: set[int] = set()
    orphaned = requeued = 0
    for task in Task.objects.filter(status=TaskStatus.RUNNING).select_related("stage__environment__project",
                                                                             "database"):
        reason = orphan_reason(task, now)
        if reason is not None and _mark_orphaned(task, reason, now):
            orphaned += 1
            touched.add(task.stage.rollout_id)
    stale = now - timedelta(seconds=settings.SLUICE_ORPHAN_SECONDS)
    for task in Task.objects.filter(status=TaskStatus.QUEUED, queued_at__lt=stale):
        # Stamped again, so that a task that is merely waiting gets one more message a period, not one per sweep.
        if Task.objects.filter(pk=task.pk, status=TaskStatus.QUEUED, queued_at=task.queued_at).update(queued_at=now):
            enqueue(task.pk)
            requeued += 1
    for rollout_id in touched:
        advance(rollout_id)
    return {"orphaned": orphaned, "requeued": requeued}
