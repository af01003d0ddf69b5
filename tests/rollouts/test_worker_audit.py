"""The worker's edges, with the real `manage.py qcluster`: a task that outlives the cluster's
timeout, the Redis broker, the sweep."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from releases import services
from releases.models import (
    Database,
    Environment,
    Project,
    Rollout,
    RolloutMode,
    RolloutStatus,
    Task,
    TaskRun,
    TaskStatus,
)
from releases.services import Actor
from tests.helpers import history_rows, manage, query
from tests.rollouts.conftest import ORPHAN_SECONDS, Worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# File 2 sleeps past the worker's 3 s timeout until the table `go_fast` exists.
SLOW = [
    ("migrations/1_first.sql", b"CREATE TABLE first (id integer);\n"),
    ("migrations/2_second.sql", b"CREATE TABLE second (id integer);\n"
     b"SELECT pg_sleep(CASE WHEN to_regclass('public.go_fast') IS NULL THEN 8 ELSE 0 END);\n"),
]


def _one_database(url: str) -> Project:
    project = Project.objects.create(slug="slow", name="Slow")
    env = Environment.objects.create(project=project, slug="prod", order=1, rollout=RolloutMode.AUTOMATIC)
    Database.objects.create(environment=env, name="prod-db", url=url)
    User.objects.create_user("ops", "ops@example.com", is_staff=True)
    return project


def _ended(task_id: int) -> Task | None:
    task = Task.objects.get(pk=task_id)
    return task if task.status not in TaskStatus.ACTIVE else None


def test_a_task_over_the_timeout_is_recorded_as_timed_out_and_a_retry_completes_it(worker, pg_url, monkeypatch):
    monkeypatch.setenv("SLUICE_TASK_TIMEOUT", "3")  # the worker's django-q2 `timeout`
    project = _one_database(pg_url)
    worker(workers=1)
    release, _ = services.create_release(project, commit="t1", files=SLOW)
    rollout = release.rollouts.get()
    task = wait_for(lambda: Task.objects.filter(stage__rollout=rollout).first(), what="the task")

    # Told by the task's own end, not seconds later by the sweep as a vanished worker.
    ended = wait_for(lambda: _ended(task.pk), timeout=12, what="the timed-out task to be recorded")
    assert ended.status == TaskStatus.FAILED
    assert ended.error.startswith("timed out: Task exceeded maximum timeout value (3 seconds)"), ended.error
    run = TaskRun.objects.get(task=ended)
    assert run.status == TaskStatus.FAILED and run.error == ended.error
    assert [(o["path"], o["action"]) for o in run.outcomes] == [("migrations/1_first.sql", "applied")]
    assert "timed out" in run.log
    assert history_rows(pg_url) == {"1": ("applied", 1, 1)}  # file 2 rolled back with its history row
    assert list(Database.objects.get(name="prod-db").applied.values_list("version", flat=True)) == ["1"]
    wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.FAILED, timeout=10,
             what="the rollout to fail")

    query(pg_url, "CREATE TABLE go_fast (id integer)")  # the operator makes file 2 quick
    services.retry_task(ended, Actor(user=User.objects.get(username="ops")))  # the target's lock was released: the retry takes it at once
    wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status in RolloutStatus.TERMINAL, timeout=20,
             what="the rollout after the retry")
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.SUCCEEDED
    assert history_rows(pg_url) == {"1": ("applied", 1, 1), "2": ("applied", 2, 2)}
    assert Task.objects.get(pk=task.pk).attempts == 2


def test_two_sluice_instances_on_one_redis_database_keep_to_their_own_queues(worker, redis_url, tmp_path,
                                                                          monkeypatch):
    """Another instance (its own control database, say staging's Sluice) whose worker reads the
    same Redis database: with SLUICE_CLUSTER_NAME set apart it takes none of this one's messages."""
    other_db = tmp_path / "other-control.sqlite3"
    done = manage("migrate", "-v0", env={"DATABASE_URL": f"sqlite:///{other_db}"})
    assert done.returncode == 0, done.stderr
    other = Worker(str(other_db), 2, tmp_path / "other.log", redis_url)
    other.env["SLUICE_CLUSTER_NAME"] = "sluice-staging"
    other.start()
    try:
        project = Project.objects.create(slug="fleet", name="Fleet")
        env = Environment.objects.create(project=project, slug="prod", order=1, rollout=RolloutMode.AUTOMATIC,
                                         concurrency=8)
        for i in range(8):
            Database.objects.create(environment=env, name=f"db{i}", url=f"sqlite:///{tmp_path / f'db{i}.sqlite3'}")
        worker(workers=2, broker=redis_url)
        release, _ = services.create_release(project, commit="n1", files=[("migrations/1_a.sql", b"SELECT 1;\n")])
        rollout = release.rollouts.get()
        # Well before the sweep (a minute) would queue a lost message again.
        wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status in RolloutStatus.TERMINAL, timeout=15,
                 what="the rollout (no message taken by the other instance)")
        assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.SUCCEEDED
        assert "run_task" not in other.log()
    finally:
        other.kill()


@pytest.mark.parametrize("pg_urls", [3], indirect=True)
def test_a_worker_killed_mid_stage_on_the_redis_broker_loses_no_task_and_applies_nothing_twice(
        worker, redis_url, pg_urls):
    """Redis has no acknowledgement: the killed cluster's running and prefetched messages are
    gone with it. The running tasks are orphaned, the sweep queues the lost ones again, and the
    retries finish the stage, every file applied once."""
    project = Project.objects.create(slug="fleet", name="Fleet")
    env = Environment.objects.create(project=project, slug="prod", order=1, rollout=RolloutMode.AUTOMATIC,
                                     concurrency=3)
    for i, url in enumerate(pg_urls):
        Database.objects.create(environment=env, name=f"db{i}", url=url)
    User.objects.create_user("ops", "ops@example.com", is_staff=True)
    first = worker(workers=2, broker=redis_url)
    files = [(f"migrations/{i}_step.sql", f"CREATE TABLE t{i} (id integer);\nSELECT pg_sleep(0.4);\n".encode())
             for i in range(1, 7)]
    release, _ = services.create_release(project, commit="k1", files=files)
    rollout = release.rollouts.get()
    tasks = Task.objects.filter(stage__rollout=rollout).select_related("database")
    wait_for(lambda: any(0 < len(history_rows(t.database.url)) < 6 for t in tasks.filter(status=TaskStatus.RUNNING)),
             timeout=30, what="tasks part-way through their files")
    first.kill()
    assert tasks.filter(status=TaskStatus.RUNNING).count() == 2 and tasks.filter(status=TaskStatus.QUEUED).count() == 1
    worker(workers=2, broker=redis_url)
    # The sweep as the worker's schedule runs it (each kill -9'd process is gone a moment after the kill).
    wait_for(lambda: services.sweep() and not tasks.filter(status=TaskStatus.RUNNING).exists(), timeout=10,
             what="the killed tasks to be orphaned")
    for task in tasks.filter(status=TaskStatus.FAILED):
        assert task.error.startswith("orphaned:")
        services.retry_task(task, Actor(user=User.objects.get(username="ops")))
    wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status in RolloutStatus.TERMINAL, timeout=30,
             what="the rollout after the retries")
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.SUCCEEDED
    for url in pg_urls:
        assert history_rows(url) == {str(i): ("applied", 2, 2) for i in range(1, 7)}
    assert sorted(t.attempts for t in tasks) == [1, 2, 2]


def test_a_lost_redis_message_is_queued_again_once_by_the_sweep(worker, redis_url, tmp_path):
    import redis

    project = _one_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    worker(workers=1, broker=redis_url).kill()  # only to point this process's queue at Redis
    release, _ = services.create_release(project, commit="l1", files=[("migrations/1_a.sql", b"SELECT 1;\n")])
    rollout = release.rollouts.get()
    task = wait_for(lambda: Task.objects.filter(stage__rollout=rollout, status=TaskStatus.QUEUED).first())
    client = redis.Redis.from_url(redis_url)
    assert client.llen("django_q:sluice:q") == 1
    client.flushdb()  # the message is lost (a Redis restart without persistence, say)
    worker(workers=1, broker=redis_url)
    wait_for(lambda: services.sweep()["requeued"], timeout=ORPHAN_SECONDS * 3, what="the sweep to queue it again")
    wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status in RolloutStatus.TERMINAL, timeout=15)
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.SUCCEEDED
    assert services.sweep() == {"orphaned": 0, "requeued": 0}
    assert Task.objects.get(pk=task.pk).attempts == 1
