"""What the django-q2 worker runs. Messages carry primary keys only; the rows hold the state.

`run_task` claims its Task with a conditional update (QUEUED → RUNNING), so a second delivery of
the same message, or a message for a cancelled task, does nothing. While the runner works, a
heartbeat thread touches the row so that a dead worker can be told from a slow migration.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import traceback

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_q.exceptions import TimeoutException

from releases import services
from releases.loader import MigrationFile, parse_file
from releases.models import CancelledBy, Rollout, RolloutStatus, Task, TaskRun, TaskStatus
from releases.runner import ApplyOptions, apply, history
from releases.runner.core import ApplyError, ConnectError, FileOutcome, HistoryError, LockTimeout, PlanError

log = logging.getLogger(__name__)
LOG_LIMIT = 200_000  # characters of a TaskRun's log kept


class _Heartbeat(threading.Thread):
    def __init__(self, task_id: int, attempt: int):
        super().__init__(name=f"sluice-heartbeat-{task_id}", daemon=True)
        self.task_id, self.attempt = task_id, attempt
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(settings.SLUICE_HEARTBEAT_SECONDS):
                try:
                    Task.objects.filter(pk=self.task_id, attempts=self.attempt, status=TaskStatus.RUNNING).update(
                        heartbeat_at=timezone.now())
                except Exception:  # a busy control database: the next beat tries again
                    log.warning("heartbeat of task %s failed", self.task_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection


class _Stop:
    """Asked by the runner before each file: has the rollout been cancelled? (at most every 0.5 s)"""

    def __init__(self, rollout_id: int):
        self.rollout_id = rollout_id
        self.checked = 0.0
        self.cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self.checked >= 0.5:
            self.checked = now
            self.cancelled = Rollout.objects.filter(pk=self.rollout_id, status=RolloutStatus.CANCELLED).exists()
        return self.cancelled


def run_task(task_id: int) -> str:
    now = timezone.now()
    worker = services.worker_id()
    with transaction.atomic():  # the claim and its TaskRun: one write transaction
        claimed = Task.objects.filter(pk=task_id, status=TaskStatus.QUEUED).update(
            status=TaskStatus.RUNNING, attempts=F("attempts") + 1, worker=worker, heartbeat_at=now, started_at=now,
            finished_at=None, error="")
        if not claimed:
            return "not claimed (already taken, finished or cancelled)"
        task = Task.objects.select_related("database", "stage__rollout__release__project", "stage__environment").get(
            pk=task_id)
        attempt = task.attempts
        run = TaskRun.objects.create(task=task, attempt=attempt, worker=worker)
    release = task.stage.rollout.release
    lines: list[str] = []
    outcomes: list[dict] = []

    def on_event(kind: str, data: object) -> None:
        if kind == "file" and isinstance(data, FileOutcome):
            outcomes.append(data.as_dict())
            rows = f", {data.rows} row(s)" if data.rows is not None else ""
            why = f" ({data.reason})" if data.reason else ""
            lines.append(f"{data.action} {data.path}{why} {data.duration_ms} ms{rows}")

    heartbeat = _Heartbeat(task_id, attempt)
    heartbeat.start()
    status, error, report = TaskStatus.SUCCEEDED, "", None
    target, runner_ms = None, 0
    timed_out: TimeoutException | None = None
    try:
        target = task.database.target()
        files = _files(release)
        options = ApplyOptions(
            release_id=release.uid,
            applied_by=f"sluice:{release.uid}",
            allow_out_of_order=release.project.allow_out_of_order,
            on_event=on_event,
            should_stop=_Stop(task.stage.rollout_id),
            lock_wait_seconds=settings.SLUICE_LOCK_WAIT_SECONDS,
        )
        began = time.monotonic()
        try:
            report = apply(target, files, options)
        finally:
            runner_ms = round((time.monotonic() - began) * 1000)
        applied = len(report.applied)
        if report.stopped:
            status, error = TaskStatus.CANCELLED, "the rollout was cancelled: stopped before the next file"
            lines.append(f"stopped by the rollout's cancel: {applied} applied, {len(report.skipped)} skipped, "
                         f"{len(files) - len(report.outcomes)} not reached")
        else:
            lines.append(f"{applied} applied, {len(report.skipped)} skipped" if applied else "nothing to apply")
        lines.extend(f"warning: {w}" for w in report.warnings)
    except (ApplyError, PlanError, HistoryError, ConnectError, LockTimeout) as exc:
        status, error = TaskStatus.FAILED, str(exc)
    except Exception as exc:  # a bug or an unexpected driver error: still a recorded failure
        status, error = TaskStatus.FAILED, f"{type(exc).__name__}: {exc}"
        lines.append(traceback.format_exc())
    except TimeoutException as exc:  # django-q2's SIGALRM at the cluster's timeout: a SystemExit
        # The runner has rolled back the file in progress (or left its `partial` row) and closed
        # its connections: record that end, then let django-q2 replace this worker process.
        timed_out = exc
        status, error = TaskStatus.FAILED, f"timed out: {exc} (SLUICE_TASK_TIMEOUT); the history shows what was applied"
    finally:
        signal.alarm(0)  # past the runner, the alarm must not cut the task's end short (the guard still can)
        heartbeat.done.set()
    if error:
        lines.append(f"error: {error}")
    finished = timezone.now()
    history_rows = _history(report, target, task.database.name)  # a failed run: one read of the target, outside the lock
    rollout_id = task.stage.rollout_id
    # The task's end is one write transaction (on a SQLite control database, one turn of its
    # write lock): the Task and its TaskRun, the history mirror, and the rollout's next step.
    with transaction.atomic():
        # Conditional: if this attempt was declared orphaned meanwhile, the task says how it really
        # ended unless a retry took it over (then the newer attempt owns the row, and this one
        # only completes its own TaskRun).
        if not Task.objects.filter(pk=task_id, attempts=attempt, status=TaskStatus.RUNNING).update(
                status=status, finished_at=finished, error=error[:10_000],
                cancelled_by=CancelledBy.OPERATOR if status == TaskStatus.CANCELLED else ""):
            taken = not services.record_late_finish(task_id, attempt, status, finished, error)
            lines.append(f"note: this attempt was declared orphaned while its worker ({worker}) was still running; "
                         f"it finished {status}" + (" after a retry had taken the task over" if taken else ""))
        log_text = "\n".join(lines)[-LOG_LIMIT:]
        TaskRun.objects.filter(pk=run.pk).update(status=status, finished_at=finished, outcomes=outcomes,
                                                 log=log_text, error=error[:10_000], runner_ms=runner_ms)
        _mirror(task, history_rows)
        try:
            with transaction.atomic():  # a savepoint: a failure to advance never undoes the task's end
                services.finish_cancelled_stages(rollout_id)
                unreviewed = services.advance_pass(rollout_id)  # the next task is queued on commit
        except Exception:
            log.exception("advancing rollout %s after task %s failed: once more, on its own", rollout_id, task_id)
            unreviewed = True
    if unreviewed is not None:  # the next stage's review (CPU work, outside the lock), or the retry
        services.advance(rollout_id)
    heartbeat.join(timeout=5)
    if timed_out is not None:
        raise timed_out
    return f"{task.database.name}: {status}"


# A release's files, parsed (a release never changes). Keyed by more than the pk: a deleted
# release's pk can be taken again (and its uid too: the counter restarts from the day's highest),
# and the cache must never hand one release's files to another.
_PARSED: dict[tuple, list[MigrationFile]] = {}


def _files(release) -> list[MigrationFile]:
    key = (release.pk, release.uid, release.project_id, release.commit_sha, release.created_at)
    files = _PARSED.get(key)
    if files is None:
        files = [parse_file(rf.path, rf.content.encode("utf-8")) for rf in release.files.order_by("id")]
        if len(_PARSED) >= 8:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = files
    return files


def _history(report, target, name: str) -> list | None:
    """The target's history as the run left it: the runner's own copy, else one read (None if the
    target cannot be reached: the mirror catches up on the next run)."""
    if report is not None and report.history is not None:
        return report.history
    if target is None:
        return None
    try:
        return history(target)
    except Exception:
        log.warning("could not read the history of %s", name, exc_info=True)
        return None


def _mirror(task: Task, rows: list | None) -> None:
    """AppliedMigration follows the target's history; a failure here never undoes the task's end."""
    if rows is None:
        return
    try:
        task.database.mirror_history(rows)  # its own savepoint
    except Exception:
        log.warning("could not mirror the history of %s", task.database.name, exc_info=True)


def sweep() -> dict:
    return services.sweep()
