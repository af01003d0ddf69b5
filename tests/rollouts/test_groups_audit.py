"""Database groups, concurrency, the failure policies and a restored control database, found in
an audit: what a group selects, when a stage's review must be done again, and that a control
database restored from a copy applies nothing twice."""

from __future__ import annotations

import sqlite3
import time

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection

from releases import services
from releases.models import (
    AppliedMigration,
    Database,
    DatabaseGroup,
    Environment,
    FailurePolicy,
    Project,
    Rollout,
    RolloutMode,
    RolloutStatus,
    StageStatus,
    Task,
    TaskRun,
    TaskStatus,
)
from releases.services import Actor, Refused
from tests.helpers import history_rows, query
from tests.rollouts import test_services
from tests.rollouts.test_services import sql_files, url

pytestmark = pytest.mark.django_db(transaction=True)

world = test_services.world  # the fixture: shop, test → staging → prod

KEEP = ("migrations/202501010001_keep.sql", b"CREATE TABLE keep (id integer PRIMARY KEY);\n")
DROP = ("migrations/202501010002_drop.sql", b"DROP TABLE keep;\n")
MORE = ("migrations/202501010003_more.sql", b"CREATE TABLE more (id integer PRIMARY KEY);\n")


def ops() -> Actor:
    return Actor(user=User.objects.get_or_create(username="ops", defaults={"is_staff": True})[0])


def test_a_group_selects_by_exact_json_label_values_and_one_task_per_database(world):
    project, envs, users, tmp = world
    test = envs["test"]
    for name, labels in [("shard-a", {"primary": 1, "zone": None}), ("shard-b", {"primary": True}),
                         ("shard-c", {"primary": "1"}), ("Shard-d", {"primary": 1})]:
        Database.objects.create(environment=test, name=name, url=f"sqlite:///{tmp / name}.db", labels=labels)
    Database.objects.create(environment=envs["prod"], name="shard-e", url=f"sqlite:///{tmp / 'shard-e'}.db",
                            labels={"primary": 1})
    DatabaseGroup.objects.create(environment=test, name="primaries", name_pattern="shard-*", labels={"primary": 1})
    DatabaseGroup.objects.create(environment=test, name="zoneless", name_pattern="shard-*", labels={"zone": None})
    release, _ = services.create_release(project, commit="a" * 40, files=sql_files(1))
    stage = release.rollouts.get().stages.get(environment__slug="test")
    assert stage.status == StageStatus.SUCCEEDED
    # true is not 1, "1" is not 1, a missing label is not null, the pattern is case-sensitive, and
    # prod's shard-e is never a member of a test group; shard-a is in both groups: one task.
    assert [t["name"] for t in stage.resolved_targets] == ["shard-a"]
    assert list(stage.tasks.values_list("database__name", flat=True)) == ["shard-a"]
    assert len(history_rows(f"sqlite:///{tmp / 'shard-a'}.db")) == 1
    for name in ("shard-b", "shard-c", "Shard-d", "shard-e", "test-db"):
        assert history_rows(f"sqlite:///{tmp / name}.db") == {}, name


def test_labels_that_are_not_an_object_are_refused_and_never_stop_the_rollouts(world):
    project, envs, users, tmp = world
    DatabaseGroup.objects.create(environment=envs["test"], name="eu", labels={"tier": "eu"})
    Database.objects.create(environment=envs["test"], name="eu-1", url=f"sqlite:///{tmp / 'eu1'}.db",
                            labels={"tier": "eu"})
    with pytest.raises(ValidationError, match="JSON object"):
        Database.objects.create(environment=envs["test"], name="eu-2", url=f"sqlite:///{tmp / 'eu2'}.db",
                                labels=["eu"])
    with pytest.raises(ValidationError, match="JSON object"):
        DatabaseGroup.objects.create(environment=envs["test"], name="us", labels=["us"])
    release, _ = services.create_release(project, commit="b" * 40, files=sql_files(1))
    assert release.rollouts.get().stages.get(environment__slug="test").status == StageStatus.SUCCEEDED


def test_a_stage_reviewed_while_its_group_matched_nothing_is_reviewed_again_when_a_database_joins(world):
    project, envs, users, tmp = world
    DatabaseGroup.objects.create(environment=envs["test"], name="eu", name_pattern="eu-*")  # matches nothing yet
    release, _ = services.create_release(project, commit="c" * 40, files=[KEEP, DROP])
    stage = release.rollouts.get().stages.get(environment__slug="test")
    assert stage.status == StageStatus.BLOCKED and "no target database" in stage.error
    Database.objects.create(environment=envs["test"], name="eu-1", url=f"sqlite:///{tmp / 'eu1'}.db")
    with pytest.raises(Refused, match="review finding"):
        services.run_stage(stage, ops())
    stage.refresh_from_db()
    assert stage.status == StageStatus.BLOCKED
    assert [f["rule"] for f in stage.review["findings"]] == ["table.disallow-drop"]
    assert history_rows(f"sqlite:///{tmp / 'eu1'}.db") == {}  # the DROP did not run unreviewed


def test_files_reviewed_where_no_database_matched_are_reviewed_in_the_next_release(world):
    project, envs, users, tmp = world
    DatabaseGroup.objects.create(environment=envs["test"], name="eu", name_pattern="eu-*")
    services.create_release(project, commit="d" * 40, files=[KEEP, DROP])  # reviewed for no engine
    Database.objects.create(environment=envs["test"], name="eu-1", url=f"sqlite:///{tmp / 'eu1'}.db")
    r2, _ = services.create_release(project, commit="e" * 40, files=[KEEP, DROP, MORE])
    stage = r2.rollouts.get().stages.get(environment__slug="test")
    assert stage.status == StageStatus.BLOCKED and stage.review["files"] == 3
    assert [f["rule"] for f in stage.review["findings"]] == ["table.disallow-drop"]
    assert history_rows(f"sqlite:///{tmp / 'eu1'}.db") == {}


def test_a_database_of_another_engine_joining_after_the_review_is_reviewed_for(world, pg_url):
    project, envs, users, tmp = world
    index = ("migrations/202501010002_index.sql", b"CREATE INDEX keep_id ON keep (id);\n")
    release, _ = services.create_release(project, commit="f" * 40, files=[KEEP, index])
    staging = release.rollouts.get().stages.get(environment__slug="staging")
    assert staging.status == StageStatus.AWAITING_APPROVAL and staging.review["dialects"] == ["sqlite"]
    Database.objects.create(environment=envs["staging"], name="staging-pg", url=pg_url)
    services.approve(staging, Actor(user=users["bob"]))  # recorded, but the stage must not start
    staging.refresh_from_db()
    assert staging.status == StageStatus.BLOCKED
    assert staging.review["dialects"] == ["sqlite", "postgres"]
    assert [f["rule"] for f in staging.review["findings"]] == ["index.create-concurrently"]
    assert history_rows(pg_url) == {} and history_rows(url(tmp, "staging")) == {}


def test_the_stored_target_list_is_what_runs_and_continue_fails_the_stage_at_the_end(world):
    project, envs, users, tmp = world
    test = envs["test"]
    test.concurrency, test.failure_policy = 1, FailurePolicy.CONTINUE
    test.save()
    for i in range(3):
        Database.objects.create(environment=test, name=f"x{i}", url=f"sqlite:///{tmp / f'x{i}'}.db",
                                labels={"tier": "eu"})
    DatabaseGroup.objects.create(environment=test, name="xs", name_pattern="x*", labels={"tier": "eu"})
    query(f"sqlite:///{tmp / 'x0'}.db", "CREATE TABLE t2 (id integer)")  # file 2 fails on x0
    release, _ = services.create_release(project, commit="1" * 40, files=sql_files(2))
    rollout = release.rollouts.get()
    stage = rollout.stages.get(environment__slug="test")
    assert stage.status == StageStatus.FAILED and stage.error == "failed on x0"
    assert dict(stage.tasks.values_list("database__name", "status")) == {
        "x0": TaskStatus.FAILED, "x1": TaskStatus.SUCCEEDED, "x2": TaskStatus.SUCCEEDED}
    staging = rollout.stages.get(environment__slug="staging")
    with pytest.raises(Refused, match="has not succeeded"):
        services.approve(staging, Actor(user=users["bob"]))
    # Membership changes after the start: x3 joins, x2 leaves; the stored list is what runs.
    Database.objects.create(environment=test, name="x3", url=f"sqlite:///{tmp / 'x3'}.db", labels={"tier": "eu"})
    Database.objects.filter(name="x2").update(labels={"tier": "us"})
    query(f"sqlite:///{tmp / 'x0'}.db", "DROP TABLE t2")
    services.retry_task(stage.tasks.get(database__name="x0"), ops())
    stage.refresh_from_db()
    assert stage.status == StageStatus.SUCCEEDED
    assert [t["name"] for t in stage.resolved_targets] == ["x0", "x1", "x2"]
    assert sorted(stage.tasks.values_list("database__name", flat=True)) == ["x0", "x1", "x2"]
    assert history_rows(f"sqlite:///{tmp / 'x3'}.db") == {}
    assert rollout.stages.get(environment__slug="staging").status == StageStatus.AWAITING_APPROVAL


def test_a_restored_control_database_applies_nothing_twice(world):
    """The control database is restored from a copy taken after R1: it no longer knows R2 ran.
    R2 posted again, and R3 that repeats R2's files, apply nothing twice (the target's history
    decides), the mirror becomes true again, and each task says it skipped the files."""
    if connection.vendor != "sqlite":
        pytest.skip("copies the SQLite control database")
    project, envs, users, tmp = world
    target = url(tmp, "test")
    services.create_release(project, commit="1" * 40, files=sql_files(2))
    connection.ensure_connection()
    copy = sqlite3.connect(":memory:")
    connection.connection.backup(copy)
    services.create_release(project, commit="2" * 40, files=sql_files(4))
    assert len(history_rows(target)) == 4
    copy.backup(connection.connection)  # the restore
    copy.close()
    database = Database.objects.get(name="test-db")
    assert database.applied.count() == 2

    again, created = services.create_release(project, commit="2" * 40, files=sql_files(4))
    assert created
    r3, _ = services.create_release(project, commit="3" * 40, files=sql_files(5))
    for release, applied in ((again, []), (r3, ["202501010005"])):
        run = TaskRun.objects.get(task__stage__rollout__release=release, task__database=database)
        assert run.status == TaskStatus.SUCCEEDED
        assert [o["version"] for o in run.outcomes if o["action"] == "applied"] == applied
        skipped = [(o["version"], o["reason"]) for o in run.outcomes if o["action"] == "skipped"]
        assert skipped == [(f"{202501010000 + i}", "already applied") for i in range(1, 5)]
    for i in range(1, 6):
        assert query(target, f"SELECT count(*) FROM t{i}") == [(1,)]  # each INSERT ran once
    assert sorted(database.applied.values_list("version", "status")) == [
        (f"{202501010000 + i}", "applied") for i in range(1, 6)]
    assert AppliedMigration.objects.filter(database=database).count() == len(history_rows(target)) == 5


@pytest.mark.slow
def test_a_stage_runs_at_most_its_concurrency_with_more_workers(worker, tmp_path):
    from tests.rollouts.test_worker import _max_overlap, applied_once, files

    project = Project.objects.create(slug="fleet", name="Fleet")
    env = Environment.objects.create(project=project, slug="prod", order=1, rollout=RolloutMode.AUTOMATIC,
                                     concurrency=2, failure_policy=FailurePolicy.CONTINUE)
    urls = {f"shard-{i}": f"sqlite:///{tmp_path / f'shard-{i}.sqlite3'}" for i in range(6)}
    for name, target in urls.items():
        Database.objects.create(environment=env, name=name, url=target)
    DatabaseGroup.objects.create(environment=env, name="shards", name_pattern="shard-*")
    DatabaseGroup.objects.create(environment=env, name="all", name_pattern="*")  # the same six again
    query(urls["shard-3"], "CREATE TABLE t3 (id integer)")  # file 3 fails there
    worker(workers=4)
    busy = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) SELECT count(*) FROM c;"
    release, _ = services.create_release(project, commit="c1", files=files(3, sleep=busy))
    rollout = release.rollouts.get()
    samples = []
    deadline = time.monotonic() + 120
    while Rollout.objects.get(pk=rollout.pk).status not in RolloutStatus.TERMINAL:
        assert time.monotonic() < deadline, "the rollout did not end"
        samples.append(Task.objects.filter(stage__rollout=rollout, status=TaskStatus.RUNNING).count())
        time.sleep(0.02)
    assert max(samples) == 2 and _max_overlap(TaskRun.objects.filter(task__stage__rollout=rollout)) == 2
    tasks = dict(Task.objects.filter(stage__rollout=rollout).values_list("database__name", "status"))
    assert tasks == {name: TaskStatus.FAILED if name == "shard-3" else TaskStatus.SUCCEEDED for name in urls}
    assert Rollout.objects.get(pk=rollout.pk).status == RolloutStatus.FAILED
    for name, target in urls.items():
        if name != "shard-3":
            applied_once(target, 3)


def test_an_override_does_not_cover_the_findings_of_a_review_made_again(world, pg_url):
    """Staging's DROP is overridden (for SQLite) before its approval; a PostgreSQL database then
    joins and the stage is reviewed again: the old override does not wave the new review through."""
    project, envs, users, tmp = world
    drop = ("migrations/202501010002_drop.sql", b"DROP TABLE keep;\n")
    release, _ = services.create_release(project, commit="e" * 40, files=[KEEP, drop])
    services.skip_stage(release.rollouts.get().stages.get(environment__slug="test"), ops(), "not this time")
    staging = release.rollouts.get().stages.get(environment__slug="staging")
    assert staging.status == StageStatus.BLOCKED
    with pytest.raises(Refused, match="cannot start"):  # recorded; the approval is still missing
        services.run_stage(staging, Actor(user=users["bob"]), override_review="keep is unused (INC-9)")
    Database.objects.create(environment=envs["staging"], name="staging-pg", url=pg_url)
    services.approve(staging, Actor(user=users["bob"]))
    staging.refresh_from_db()
    assert staging.status == StageStatus.BLOCKED and staging.review["dialects"] == ["sqlite", "postgres"]
    assert staging.review_override_reason == ""
    assert history_rows(pg_url) == {} and history_rows(url(tmp, "staging")) == {}
