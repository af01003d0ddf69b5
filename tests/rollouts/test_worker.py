"""End to end with the real worker process (`manage.py qcluster`): releases roll out through
approvals onto PostgreSQL, MariaDB and SQLite targets; failures, retries, a killed worker."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Group, User

from releases import services
from releases.models import (
    Database,
    DatabaseGroup,
    Environment,
    FailurePolicy,
    Project,
    Rollout,
    RolloutMode,
    RolloutStatus,
    Stage,
    StageStatus,
    Task,
    TaskRun,
    TaskStatus,
)
from releases.services import SYSTEM, Actor, Refused
from tests.helpers import history_rows, query
from tests.rollouts.conftest import ORPHAN_SECONDS, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def files(n: int, start: int = 1, sleep: str = "") -> list[tuple[str, bytes]]:
    """Each file creates a table and logs itself in `applied_log` (a second apply would show)."""
    out = []
    for i in range(start, start + n):
        body = (f"CREATE TABLE t{i} (id integer PRIMARY KEY);\n"
                f"INSERT INTO applied_log (file) VALUES ({i});\n")
        if i == 1:
            body = "CREATE TABLE applied_log (file integer NOT NULL);\n" + body
        if sleep:
            body += sleep + "\n"
        out.append((f"migrations/{202501010000 + i}_step_{i}.sql", body.encode()))
    return out


def stage(rollout: Rollout, slug: str) -> Stage:
    return Stage.objects.get(rollout=rollout, environment__slug=slug)


def settled(rollout: Rollout, slug: str) -> Stage | None:
    s = stage(rollout, slug)
    return s if s.status not in (StageStatus.RUNNING, StageStatus.WAITING) else None


def reviewed(rollout: Rollout, slug: str) -> Stage | None:
    """The stage once the worker has reviewed its files: a stage waits while that runs, after the
    previous stage's end is committed (so 'previous stage succeeded' can be seen before it)."""
    s = stage(rollout, slug)
    return s if s.status != StageStatus.WAITING else None


def applied_once(url: str, n: int) -> None:
    assert len(history_rows(url)) == n
    assert query(url, "SELECT file, count(*) FROM applied_log GROUP BY file HAVING count(*) > 1") == []
    assert query(url, "SELECT count(*) FROM applied_log") == [(n,)]


def _shop(pg_url: str, mysql_url: str, sqlite_url: str) -> tuple[Project, Group]:
    """test (PostgreSQL, automatic) → staging (MariaDB, 1 approval) → prod (SQLite, 2 approvals)."""
    approvers = Group.objects.create(name="release-managers")
    project = Project.objects.create(slug="shop", name="Shop")
    urls = {"test": pg_url, "staging": mysql_url, "prod": sqlite_url}
    for order, (slug, mode, n) in enumerate(
            [("test", RolloutMode.AUTOMATIC, 0), ("staging", RolloutMode.MANUAL, 1), ("prod", RolloutMode.MANUAL, 2)]):
        env = Environment.objects.create(project=project, slug=slug, order=order, rollout=mode,
                                         required_approvals=n, approver_group=approvers)
        Database.objects.create(environment=env, name=f"{slug}-db", url=urls[slug])
    return project, approvers


def test_a_release_reaches_prod_through_approvals_in_the_worker(worker, pg_url, mysql_url, sqlite_url):
    project, approvers = _shop(pg_url, mysql_url, sqlite_url)
    users = {name: User.objects.create_user(name, f"{name}@example.com") for name in ("alice", "bob", "carol", "eve")}
    for name in ("alice", "bob", "carol"):
        users[name].groups.add(approvers)
    worker(workers=2)

    release, _ = services.create_release(project, commit="c1", files=files(5),
                                         vcs={"author": "alice", "author_email": "alice@example.com"})
    rollout = release.rollouts.get()
    assert wait_for(lambda: settled(rollout, "test"), what="the test stage").status == StageStatus.SUCCEEDED
    applied_once(pg_url, 5)
    assert wait_for(lambda: reviewed(rollout, "staging"), what="staging's review").status == \
        StageStatus.AWAITING_APPROVAL
    assert history_rows(mysql_url) == {}

    with pytest.raises(Refused, match="staging has not succeeded yet"):
        services.approve(stage(rollout, "prod"), Actor(user=users["bob"]))
    with pytest.raises(Refused, match="is the author"):
        services.approve(stage(rollout, "staging"), Actor(user=users["alice"]))
    with pytest.raises(Refused, match="not in release-managers"):
        services.approve(stage(rollout, "staging"), Actor(user=users["eve"]))
    services.approve(stage(rollout, "staging"), Actor(user=users["bob"]))
    assert wait_for(lambda: settled(rollout, "staging"), what="staging").status == StageStatus.SUCCEEDED
    applied_once(mysql_url, 5)
    wait_for(lambda: reviewed(rollout, "prod"), what="prod's review")

    services.approve(stage(rollout, "prod"), Actor(user=users["bob"]))
    assert stage(rollout, "prod").status == StageStatus.AWAITING_APPROVAL
    services.approve(stage(rollout, "prod"), Actor(user=users["carol"]))
    wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status in RolloutStatus.TERMINAL, what="the rollout")
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.SUCCEEDED
    applied_once(sqlite_url, 5)
    run = TaskRun.objects.get(task__stage__environment__slug="prod")
    assert [o["action"] for o in run.outcomes] == ["applied"] * 5
    assert [o["rows"] for o in run.outcomes] == [1] * 5  # each file's INSERT, counted
    assert 0 < run.runner_ms <= (run.finished_at - run.started_at).total_seconds() * 1000 + 1
    # The mirror is written in the task's own closing transaction.
    assert Database.objects.get(name="prod-db").applied.count() == 5


def test_a_release_posted_through_the_api_reaches_prod_in_the_worker(worker, pg_url, mysql_url, sqlite_url):
    """What a team does: CI posts the merged commit with its token, approvers approve in their
    browser sessions (CSRF enforced), the worker applies each stage; everything over HTTP."""
    from rest_framework.test import APIClient

    from gitops.models import ApiToken

    project, approvers = _shop(pg_url, mysql_url, sqlite_url)
    for name in ("alice", "bob", "carol"):
        User.objects.create_user(name, f"{name}@example.com", "pw").groups.add(approvers)
    _, raw = ApiToken.issue(project, "ci", ["check", "release", "read"])
    ci = APIClient()
    ci.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def browser(name: str) -> APIClient:
        client = APIClient(enforce_csrf_checks=True)
        assert client.login(username=name, password="pw")
        client.get("/admin/login/")  # a page with a form hands the browser its CSRF cookie
        client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
        return client

    def approve(client: APIClient, env: str):
        return client.post(f"/api/v1/releases/{uid}/stages/{env}/approve", {"comment": "ok"}, format="json")

    def status(env: str | None = None) -> str:
        doc = ci.get(f"/api/v1/releases/{uid}").json()
        if env is None:
            return doc["rollout"]["status"]
        return next(s["status"] for s in doc["rollout"]["stages"] if s["environment"] == env)

    body = {"commit": "d" * 40, "branch": "main", "title": "Five steps",
            "vcs": {"provider": "github", "pr": 7, "author": "alice-gh", "author_email": "alice@example.com"},
            "files": [{"path": p, "content": c.decode()} for p, c in files(5)]}
    worker(workers=2)
    response = ci.post("/api/v1/projects/shop/releases", body, format="json")
    assert response.status_code == 201, response.json()
    uid = response.json()["uid"]
    assert ci.post("/api/v1/projects/shop/releases", body, format="json").status_code == 200  # same commit

    def ended_and_next_reviewed(env: str, following: str) -> bool:
        # Over HTTP, as `settled` and `reviewed` above: a stage waits while the worker reviews its
        # files, after the previous stage's end is committed.
        return status(env) in ("failed", "cancelled") or (status(env) == "succeeded" and status(following) != "waiting")

    wait_for(lambda: ended_and_next_reviewed("test", "staging"), what="the test stage")
    assert status("test") == "succeeded" and status("staging") == "awaiting_approval"
    applied_once(pg_url, 5)
    assert approve(ci, "staging").status_code == 403  # a CI token is not an approver
    assert approve(browser("alice"), "staging").status_code == 403  # the pull request's author
    early = approve(browser("bob"), "prod")  # staging has not run yet
    assert early.status_code == 409 and early.json()["error"]["code"] == "out_of_order"
    assert approve(browser("bob"), "staging").status_code == 200
    wait_for(lambda: ended_and_next_reviewed("staging", "prod"), what="staging")
    assert status("staging") == "succeeded" and status("prod") == "awaiting_approval"
    applied_once(mysql_url, 5)

    assert approve(browser("bob"), "prod").status_code == 200
    assert status("prod") == "awaiting_approval"  # two approvals needed
    assert approve(browser("carol"), "prod").status_code == 200
    wait_for(lambda: status() in ("succeeded", "failed", "cancelled"), what="the rollout")
    assert status() == "succeeded"
    applied_once(sqlite_url, 5)
    prod = Database.objects.get(name="prod-db")
    history = ci.get(f"/api/v1/databases/{prod.pk}/history").json()
    assert [row["version"] for row in history["history"]] == [str(202501010000 + i) for i in range(1, 6)]


def _fleet(tmp_path, pg_urls=(), sqlite=0, concurrency=8, failure=FailurePolicy.STOP, group=True):
    project = Project.objects.create(slug="fleet", name="Fleet")
    env = Environment.objects.create(project=project, slug="prod", order=1, rollout=RolloutMode.AUTOMATIC,
                                     concurrency=concurrency, failure_policy=failure)
    urls = {}
    for i in range(sqlite):
        urls[f"shard-{i:02d}"] = f"sqlite:///{tmp_path / f'shard-{i:02d}.sqlite3'}"
    for i, url in enumerate(pg_urls):
        urls[f"shard-pg-{i:02d}"] = url
    for name, url in urls.items():
        Database.objects.create(environment=env, name=name, url=url, labels={"tier": "eu"})
    Database.objects.create(environment=env, name="analytics", url=f"sqlite:///{tmp_path / 'analytics.sqlite3'}")
    User.objects.create_user("ops", "ops@example.com", is_staff=True)
    if group:
        DatabaseGroup.objects.create(environment=env, name="shards", name_pattern="shard-*", labels={"tier": "eu"})
    return project, env, urls


def ops() -> Actor:
    return Actor(user=User.objects.get(username="ops"))


def _max_overlap(runs) -> int:
    events = sorted(itertools.chain.from_iterable(((r.started_at, 1), (r.finished_at, -1)) for r in runs),
                    key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def test_a_50_database_group_runs_8_at_a_time(worker, tmp_path, pg_urls):
    project, env, urls = _fleet(tmp_path, pg_urls, sqlite=40, concurrency=8)
    worker(workers=8)
    release, _ = services.create_release(project, commit="g1", files=files(4))
    rollout = release.rollouts.get()
    done = wait_for(lambda: settled(rollout, "prod"), timeout=180, what="the 50-database stage")
    assert done.status == StageStatus.SUCCEEDED, done.error
    assert sorted(t["name"] for t in done.resolved_targets) == sorted(urls)  # not `analytics`
    assert Task.objects.filter(stage=done).count() == 50
    for url in urls.values():
        applied_once(url, 4)
    runs = list(TaskRun.objects.filter(task__stage=done))
    assert 1 < _max_overlap(runs) <= 8


@pytest.mark.parametrize("failure", [FailurePolicy.STOP, FailurePolicy.CONTINUE])
def test_one_failing_database_fails_the_stage_and_a_retry_completes_it(worker, tmp_path, failure):
    # Under `stop`, one database at a time: the databases after shard-07 are then certainly not started
    # when it fails (with four at a time, a worker slow to run shard-07 let the other three finish them
    # all first once, and nothing was left to cancel).
    concurrency = 1 if failure == FailurePolicy.STOP else 4
    project, env, urls = _fleet(tmp_path, sqlite=20, concurrency=concurrency, failure=failure)
    broken = urls["shard-07"]
    query(broken, "CREATE TABLE t3 (id integer)")  # file 3 will fail there: the table exists
    worker(workers=4)
    release, _ = services.create_release(project, commit="f1", files=files(5))
    rollout = release.rollouts.get()
    failed = wait_for(lambda: settled(rollout, "prod"), timeout=120, what="the stage to fail")
    assert failed.status == StageStatus.FAILED and "shard-07" in failed.error
    wait_for(lambda: not Task.objects.filter(stage=failed, status__in=TaskStatus.ACTIVE).exists())
    tasks = {t.database.name: t for t in Task.objects.filter(stage=failed).select_related("database")}
    assert tasks["shard-07"].status == TaskStatus.FAILED
    assert "t3" in tasks["shard-07"].error and "already exists" in tasks["shard-07"].error
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.FAILED
    others = [t for name, t in tasks.items() if name != "shard-07"]
    if failure == FailurePolicy.CONTINUE:
        assert all(t.status == TaskStatus.SUCCEEDED for t in others)
    else:
        assert {t.status for t in others} <= {TaskStatus.SUCCEEDED, TaskStatus.CANCELLED}
        assert any(t.status == TaskStatus.CANCELLED for t in others)
    assert len(history_rows(broken)) == 2  # files 1 and 2; file 3 rolled back with its history row

    query(broken, "DROP TABLE t3")  # the operator fixes the database
    services.retry_task(tasks["shard-07"], ops())
    wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status in RolloutStatus.TERMINAL, timeout=120)
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.SUCCEEDED
    for url in urls.values():
        applied_once(url, 5)
    assert Task.objects.get(pk=tasks["shard-07"].pk).attempts == 2


def test_a_worker_killed_mid_stage_then_restarted_completes_the_stage(worker, tmp_path, pg_urls):
    project, env, urls = _fleet(tmp_path, pg_urls, concurrency=4)
    first = worker(workers=4)
    # Each file takes ~0.3 s on PostgreSQL: the kill lands inside files, on several databases.
    release, _ = services.create_release(project, commit="k1", files=files(6, sleep="SELECT pg_sleep(0.3);"))
    rollout = release.rollouts.get()

    def midway() -> bool:  # some databases done, and one part-way through its files
        if not Task.objects.filter(stage__rollout=rollout, status=TaskStatus.SUCCEEDED).exists():
            return False
        running = Task.objects.filter(stage__rollout=rollout, status=TaskStatus.RUNNING).select_related("database")
        return any(0 < len(history_rows(t.database.url)) < 5 for t in running)

    wait_for(midway, timeout=60, what="some tasks done, one part-way")
    first.kill()
    running = list(Task.objects.filter(stage__rollout=rollout, status=TaskStatus.RUNNING))
    assert running
    worker(workers=4)  # restarted
    # Same host: once the killed processes are gone their tasks are orphaned (else after the heartbeat limit).
    wait_for(lambda: all(services.orphan_reason(t) for t in running), timeout=ORPHAN_SECONDS * 3,
             what="the killed worker's tasks to be seen as orphaned")
    wait_for(lambda: services.sweep() and not Task.objects.filter(stage__rollout=rollout,
                                                                  status=TaskStatus.QUEUED).exists()
             or None, timeout=ORPHAN_SECONDS * 10, what="the sweep to requeue lost messages")
    for task in Task.objects.filter(stage__rollout=rollout, status=TaskStatus.FAILED):
        assert task.error.startswith("orphaned:")
        services.retry_task(task, ops())
    wait_for(lambda: Rollout.objects.get(pk=rollout.pk).status in RolloutStatus.TERMINAL, timeout=120,
             what="the rollout after the restart")
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.SUCCEEDED
    for url in urls.values():
        applied_once(url, 6)


def test_redeploy_and_a_release_that_repeats_files(worker, tmp_path):
    project, env, urls = _fleet(tmp_path, sqlite=3, concurrency=3, group=False)
    worker(workers=2)
    release, _ = services.create_release(project, commit="r1", files=files(3))
    wait_for(lambda: Rollout.objects.get(release=release).status in RolloutStatus.TERMINAL)
    again = services.redeploy(release, SYSTEM)
    wait_for(lambda: Rollout.objects.get(pk=again.pk).status in RolloutStatus.TERMINAL)
    assert Rollout.objects.get(pk=again.pk).status == RolloutStatus.SUCCEEDED
    for run in TaskRun.objects.filter(task__stage__rollout=again):
        assert run.status == TaskStatus.SUCCEEDED and "nothing to apply" in run.log
        assert {o["action"] for o in run.outcomes} == {"skipped"}

    second, created = services.create_release(project, commit="r2", files=files(4))
    assert created
    assert [f.is_new for f in second.files.order_by("version")] == [False, False, False, True]
    wait_for(lambda: Rollout.objects.get(release=second).status in RolloutStatus.TERMINAL)
    for run in TaskRun.objects.filter(task__stage__rollout__release=second):
        assert [o["action"] for o in run.outcomes] == ["skipped"] * 3 + ["applied"]
    for url in [*urls.values(), f"sqlite:///{tmp_path / 'analytics.sqlite3'}"]:
        applied_once(url, 4)


def test_the_redis_broker_carries_a_rollout_too(worker, redis_url, tmp_path, pg_url):
    project, env, urls = _fleet(tmp_path, [pg_url], sqlite=3, concurrency=2)
    worker(workers=2, broker=redis_url)
    from django_q.brokers import get_broker

    assert type(get_broker()).__name__ == "Redis"  # this process enqueues to Redis too
    release, _ = services.create_release(project, commit="q1", files=files(3))
    rollout = release.rollouts.get()
    done = wait_for(lambda: settled(rollout, "prod"), timeout=60, what="the stage, through Redis")
    assert done.status == StageStatus.SUCCEEDED, done.error
    for url in urls.values():
        applied_once(url, 3)


def test_cancel_lets_a_running_task_finish_its_file_and_cancels_the_rest(worker, tmp_path, pg_urls):
    project, env, urls = _fleet(tmp_path, pg_urls[:3], concurrency=1)
    worker(workers=2)
    release, _ = services.create_release(project, commit="x1", files=files(8, sleep="SELECT pg_sleep(0.3);"))
    rollout = release.rollouts.get()

    def part_way():
        running = Task.objects.filter(stage__rollout=rollout, status=TaskStatus.RUNNING).select_related("database")
        return any(0 < len(history_rows(t.database.url)) < 5 for t in running)

    wait_for(part_way, timeout=60, what="a task part-way through its files")
    services.cancel_rollout(rollout, ops(), "wrong release")
    wait_for(lambda: not Task.objects.filter(stage__rollout=rollout, status__in=TaskStatus.ACTIVE).exists(),
             timeout=30, what="the running task to stop")
    tasks = list(Task.objects.filter(stage__rollout=rollout).select_related("database"))
    stopped = [t for t in tasks if t.runs.exists()]
    assert len(stopped) == 1 and stopped[0].status == TaskStatus.CANCELLED
    done = len(history_rows(stopped[0].database.url))
    assert 0 < done < 8  # it finished the file it was on, and started no other
    assert query(stopped[0].database.url, "SELECT count(*) FROM applied_log") == [(done,)]
    assert all(t.status == TaskStatus.CANCELLED and not t.runs.exists() for t in tasks if t not in stopped)
    assert Stage.objects.get(rollout=rollout).status == StageStatus.CANCELLED
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.CANCELLED
