"""The rollout state machine, run by django-q2 in sync mode (the worker's own tests are in
test_worker.py): releases, gates, approvals, failure policies, retries, cancel, re-deploy."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from releases import services
from releases.models import (
    AuditEvent,
    Database,
    DatabaseGroup,
    Environment,
    FailurePolicy,
    Project,
    RolloutMode,
    RolloutStatus,
    StageStatus,
    TaskStatus,
)
from releases.services import Actor, Refused
from tests.helpers import history_rows, query

pytestmark = pytest.mark.django_db(transaction=True)


def sql_files(n: int, start: int = 1) -> list[tuple[str, bytes]]:
    return [
        (f"migrations/{202501010000 + i}_step_{i}.sql",
         f"CREATE TABLE t{i} (id integer PRIMARY KEY);\nINSERT INTO t{i} (id) VALUES ({i});\n".encode())
        for i in range(start, start + n)
    ]


@pytest.fixture
def world(tmp_path):
    approvers = Group.objects.create(name="release-managers")
    project = Project.objects.create(slug="shop", name="Shop")
    envs = {}
    for order, (slug, mode, approvals) in enumerate(
        [("test", RolloutMode.AUTOMATIC, 0), ("staging", RolloutMode.MANUAL, 1), ("prod", RolloutMode.MANUAL, 2)], 1
    ):
        envs[slug] = Environment.objects.create(
            project=project, slug=slug, order=order, rollout=mode, required_approvals=approvals,
            approver_group=approvers if mode == RolloutMode.MANUAL else None,
        )
        Database.objects.create(environment=envs[slug], name=f"{slug}-db", url=f"sqlite:///{tmp_path / slug}.db")
    users = {}
    for name in ("alice", "bob", "carol", "mallory"):
        users[name] = User.objects.create_user(name, f"{name}@example.com", "pw")
        if name != "mallory":
            users[name].groups.add(approvers)
    return project, envs, users, tmp_path


def url(tmp_path, slug):
    return f"sqlite:///{tmp_path / slug}.db"


def test_a_release_reaches_prod_through_approvals(world):
    project, envs, users, tmp = world
    release, created = services.create_release(project, commit="a" * 40, files=sql_files(5),
                                               vcs={"author": "alice", "author_email": "alice@example.com"})
    assert created
    rollout = release.rollouts.get()
    stages = {s.environment.slug: s for s in rollout.stages.all()}
    assert stages["test"].status == StageStatus.SUCCEEDED
    assert len(history_rows(url(tmp, "test"))) == 5
    assert stages["staging"].status == StageStatus.AWAITING_APPROVAL
    assert history_rows(url(tmp, "staging")) == {}

    with pytest.raises(Refused, match="cannot be approved before"):
        services.approve(stages["prod"], Actor(user=users["bob"]))
    with pytest.raises(Refused, match="author"):
        services.approve(stages["staging"], Actor(user=users["alice"]))
    with pytest.raises(Refused, match="not in release-managers"):
        services.approve(stages["staging"], Actor(user=users["mallory"]))
    services.approve(stages["staging"], Actor(user=users["bob"]), "looks good")
    stages["staging"].refresh_from_db()
    assert stages["staging"].status == StageStatus.SUCCEEDED
    assert len(history_rows(url(tmp, "staging"))) == 5

    services.approve(stages["prod"], Actor(user=users["bob"]))
    stages["prod"].refresh_from_db()
    assert stages["prod"].status == StageStatus.AWAITING_APPROVAL
    with pytest.raises(Refused, match="already approved"):
        services.approve(stages["prod"], Actor(user=users["bob"]))
    services.approve(stages["prod"], Actor(user=users["carol"]))
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.SUCCEEDED
    assert query(url(tmp, "prod"), "SELECT count(*) FROM t5") == [(1,)]
    verbs = list(AuditEvent.objects.values_list("verb", flat=True))
    assert verbs.count("stage.approve") == 3 and verbs.count("stage.start") == 3

    again, created = services.create_release(project, commit="a" * 40, files=sql_files(5))
    assert (again.pk, created) == (release.pk, False)


def test_a_rejection_blocks_the_stage_until_a_new_release(world):
    project, envs, users, tmp = world
    release, _ = services.create_release(project, commit="b" * 40, files=sql_files(2))
    staging = release.rollouts.get().stages.get(environment__slug="staging")
    services.reject(staging, Actor(user=users["bob"]), "not on a Friday")
    staging.refresh_from_db()
    assert staging.status == StageStatus.BLOCKED and "rejected by bob" in staging.error
    with pytest.raises(Refused, match="rejected"):
        services.approve(staging, Actor(user=users["carol"]))
    with pytest.raises(Refused, match="cannot start"):
        services.run_stage(staging, Actor(user=users["carol"]))
    newer, _ = services.create_release(project, commit="c" * 40, files=sql_files(3))
    services.approve(newer.rollouts.get().stages.get(environment__slug="staging"), Actor(user=users["carol"]))
    assert len(history_rows(url(tmp, "staging"))) == 3


def test_an_approval_is_bound_to_the_resolved_targets(world):
    project, envs, users, tmp = world
    prod = envs["prod"]
    DatabaseGroup.objects.create(environment=prod, name="all", name_pattern="prod-*")
    release, _ = services.create_release(project, commit="d" * 40, files=sql_files(1))
    rollout = release.rollouts.get()
    staging, prod_stage = (rollout.stages.get(environment__slug=s) for s in ("staging", "prod"))
    services.approve(staging, Actor(user=users["bob"]))
    services.approve(prod_stage, Actor(user=users["bob"]))
    # Membership changes after the first approval: the second one completes the count, but
    # the first was given for another target list, so prod asks again.
    Database.objects.create(environment=prod, name="prod-db-2", url=f"sqlite:///{tmp / 'prod2'}.db")
    services.approve(prod_stage, Actor(user=users["carol"]))
    prod_stage.refresh_from_db()
    assert prod_stage.status == StageStatus.AWAITING_APPROVAL
    assert "changed since an earlier approval" in prod_stage.error
    services.approve(prod_stage, Actor(user=users["bob"]))
    prod_stage.refresh_from_db()
    assert prod_stage.status == StageStatus.SUCCEEDED
    assert [t["name"] for t in prod_stage.resolved_targets] == ["prod-db", "prod-db-2"]
    assert len(history_rows(f"sqlite:///{tmp / 'prod2'}.db")) == 1


def test_review_errors_block_a_stage_until_an_approver_overrides_with_a_reason(world):
    project, envs, users, tmp = world
    risky = [("migrations/202501010001_drop.sql", b"CREATE TABLE keep (id integer PRIMARY KEY);\n"),
             ("migrations/202501010002_drop.sql", b"DROP TABLE keep;\n")]
    release, _ = services.create_release(project, commit="e" * 40, files=risky)
    test = release.rollouts.get().stages.get(environment__slug="test")
    assert test.status == StageStatus.BLOCKED and "review finding" in test.error
    assert test.review["findings"][0]["rule"] == "table.disallow-drop"
    assert history_rows(url(tmp, "test")) == {}
    with pytest.raises(Refused, match="no approver group"):
        services.run_stage(test, Actor(user=users["bob"]), override_review="I know")
    envs["test"].approver_group = Group.objects.get(name="release-managers")
    envs["test"].save()
    with pytest.raises(Refused, match="not in release-managers"):
        services.run_stage(test, Actor(user=users["mallory"]), override_review="I know")
    with pytest.raises(Refused, match="written reason"):
        services.run_stage(test, Actor(user=users["bob"]), override_review="   ")
    services.run_stage(test, Actor(user=users["bob"]), override_review="the table was never used (INC-42)")
    test.refresh_from_db()
    assert test.status == StageStatus.SUCCEEDED
    event = AuditEvent.objects.get(verb="stage.review-override")
    assert event.actor_label == "bob" and "INC-42" in event.data["reason"]


def test_a_stage_is_reviewed_with_the_recommended_policy_as_tuned_in_the_admin(world):
    """No policy attached anywhere: the stored `recommended`, with the admin's edits, decides."""
    from reviews.models import RuleSetting
    from reviews.policy_io import ensure_templates

    project, envs, users, tmp = world
    recommended = next(p for p in ensure_templates() if p.name == "recommended")
    RuleSetting.objects.create(policy=recommended, rule_id="table.disallow-drop", severity="warning")
    risky = [("migrations/202501010001_keep.sql", b"CREATE TABLE keep (id integer PRIMARY KEY);\n"),
             ("migrations/202501010002_drop.sql", b"DROP TABLE keep;\n")]
    release, _ = services.create_release(project, commit="9" * 40, files=risky)
    test = release.rollouts.get().stages.get(environment__slug="test")
    assert test.status == StageStatus.SUCCEEDED  # a warning does not block
    assert (test.review["policy"], test.review["errors"], test.review["warnings"]) == ("recommended", 0, 1)


def test_a_failure_to_advance_never_undoes_a_finished_task(world, monkeypatch):
    """The task's end and the rollout's next step share a transaction; if the step fails, the task
    is still recorded as it ended, and the step is tried once more on its own."""
    project, envs, users, tmp = world
    import sys

    real, failed = services.advance_pass, []

    def flaky(rollout_id):
        caller = sys._getframe(1).f_code.co_name
        if caller == "run_task" and not failed:  # the pass inside the task's closing transaction
            failed.append(rollout_id)
            raise RuntimeError("the control database hiccuped")
        return real(rollout_id)

    monkeypatch.setattr(services, "advance_pass", flaky)
    release, _ = services.create_release(project, commit="8" * 40, files=sql_files(2))
    rollout = release.rollouts.get()
    test = rollout.stages.get(environment__slug="test")
    task = test.tasks.get()
    assert failed == [rollout.pk]
    assert (task.status, task.runs.get().status) == (TaskStatus.SUCCEEDED, TaskStatus.SUCCEEDED)
    assert test.status == StageStatus.SUCCEEDED
    assert rollout.stages.get(environment__slug="staging").status == StageStatus.AWAITING_APPROVAL
    assert task.database.applied.count() == 2


def test_cancel_skip_and_redeploy(world):
    project, envs, users, tmp = world
    release, _ = services.create_release(project, commit="f" * 40, files=sql_files(2))
    rollout = release.rollouts.get()
    with pytest.raises(Refused, match="still rolling out"):
        services.redeploy(release, Actor(user=users["bob"]))
    staging = rollout.stages.get(environment__slug="staging")
    with pytest.raises(Refused, match="reason"):
        services.skip_stage(staging, Actor(user=users["bob"]), "")
    services.skip_stage(staging, Actor(user=users["bob"]), "staging is being rebuilt")
    prod = rollout.stages.get(environment__slug="prod")
    services.cancel_rollout(rollout, Actor(user=users["carol"]), "wrong day")
    rollout.refresh_from_db()
    prod.refresh_from_db()
    assert rollout.status == RolloutStatus.CANCELLED and prod.status == StageStatus.CANCELLED
    assert prod.tasks.get().status == TaskStatus.CANCELLED
    assert history_rows(url(tmp, "prod")) == {}
    again = services.redeploy(release, Actor(user=users["bob"]))
    test_task = again.stages.get(environment__slug="test").tasks.get()
    assert test_task.status == TaskStatus.SUCCEEDED
    assert "nothing to apply" in test_task.runs.get().log
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"stage.skip", "rollout.cancel", "rollout.create"} <= verbs


def test_a_token_approves_only_where_it_is_granted(world):
    from gitops.models import ApiToken

    project, envs, users, tmp = world
    token, _ = ApiToken.issue(project, "deploy-bot")
    token.approve_environments.add(envs["staging"])
    release, _ = services.create_release(project, commit="0" * 40, files=sql_files(1))
    rollout = release.rollouts.get()
    services.approve(rollout.stages.get(environment__slug="staging"), Actor(token=token))
    services.approve(rollout.stages.get(environment__slug="prod"), Actor(user=users["bob"]))
    with pytest.raises(Refused, match="not granted approve on environment prod"):
        services.approve(rollout.stages.get(environment__slug="prod"), Actor(token=token))


def test_bad_and_edited_files_store_nothing(world):
    project, envs, users, tmp = world
    with pytest.raises(Refused) as refused:
        services.create_release(project, commit="1" * 40, files=[
            ("migrations/oops.sql", b"SELECT 1;"), ("migrations/202501010001_a.sql", b"\xff\xfe\x00bad"),
            ("migrations/202501010002_b.sql", b"  \n"),
        ])
    assert refused.value.status == 422
    assert {d["file"] for d in refused.value.details} == {
        "migrations/oops.sql", "migrations/202501010001_a.sql", "migrations/202501010002_b.sql"}
    services.create_release(project, commit="2" * 40, files=sql_files(1))
    edited = [(sql_files(1)[0][0], b"CREATE TABLE t1 (id bigint PRIMARY KEY);\n")]
    with pytest.raises(Refused, match="edited") as refused:
        services.create_release(project, commit="3" * 40, files=edited)
    assert refused.value.details[0]["file"] == sql_files(1)[0][0]
    assert project.releases.count() == 1
    with pytest.raises(Refused, match="already released"):
        services.create_release(project, commit="2" * 40, files=sql_files(2))


def test_a_failed_task_in_a_stop_stage_cancels_the_rest_and_retry_reopens_them(world):
    project, envs, users, tmp = world
    test = envs["test"]
    test.concurrency = 1
    test.failure_policy = FailurePolicy.STOP
    test.save()
    for i in range(3):
        Database.objects.create(environment=test, name=f"test-x{i}", url=f"sqlite:///{tmp / f'x{i}'}.db")
    query(f"sqlite:///{tmp / 'x0'}.db", "CREATE TABLE t1 (id integer)")
    release, _ = services.create_release(project, commit="4" * 40, files=sql_files(2))
    stage = release.rollouts.get().stages.get(environment__slug="test")
    statuses = dict(stage.tasks.values_list("database__name", "status"))
    assert statuses["test-x0"] == TaskStatus.FAILED
    assert TaskStatus.CANCELLED in statuses.values()
    assert stage.status == StageStatus.FAILED
    query(f"sqlite:///{tmp / 'x0'}.db", "DROP TABLE t1")
    failed = stage.tasks.get(database__name="test-x0")
    with pytest.raises(Refused, match="no approver group"):  # test has none: only staff may retry
        services.retry_task(failed, Actor(user=users["bob"]))
    staff = User.objects.create_user("ops", is_staff=True)
    services.retry_task(failed, Actor(user=staff))
    stage.refresh_from_db()
    assert stage.status == StageStatus.SUCCEEDED
    assert set(stage.tasks.values_list("status", flat=True)) == {TaskStatus.SUCCEEDED}


def test_the_worker_sweeps_for_orphans_every_minute():
    import importlib

    from django.apps import apps
    from django_q.models import Schedule

    # (transactional tests empty the tables the data migration filled: run it again)
    importlib.import_module("releases.migrations.0004_sweep_schedule").create(apps, None)

    schedule = Schedule.objects.get(func="releases.tasks.sweep")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_a_task_whose_worker_is_gone_is_orphaned_and_retried(world):
    from django.utils import timezone

    from releases.models import Stage, Task, TaskRun

    project, envs, users, tmp = world
    release, _ = services.create_release(project, commit="9" * 40, files=sql_files(1))
    task = release.rollouts.get().stages.get(environment__slug="test").tasks.get()
    # As a worker killed mid-task leaves it: RUNNING, claimed by a process that no longer exists.
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.RUNNING, worker="otherhost:1",
                                           heartbeat_at=timezone.now())
    TaskRun.objects.filter(task=task).update(status=TaskStatus.RUNNING)
    Stage.objects.filter(pk=task.stage_id).update(status=StageStatus.RUNNING, finished_at=None)
    task.refresh_from_db()
    assert services.orphan_reason(task) is None  # another host, a fresh heartbeat: maybe alive
    assert services.sweep() == {"orphaned": 0, "requeued": 0}
    Task.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(minutes=5))
    assert services.sweep() == {"orphaned": 1, "requeued": 0}
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and "no heartbeat" in task.error
    assert AuditEvent.objects.filter(verb="task.orphaned").count() == 1
    services.retry_task(task, Actor(user=User.objects.create_user("ops", is_staff=True)))
    task.refresh_from_db()
    assert task.status == TaskStatus.SUCCEEDED and task.attempts == 2


def test_only_operators_cancel_or_redeploy(world):
    from gitops.models import ApiToken

    project, envs, users, tmp = world
    release, _ = services.create_release(project, commit="5" * 40, files=sql_files(1))
    rollout = release.rollouts.get()
    with pytest.raises(Refused, match="neither staff nor an approver"):
        services.cancel_rollout(rollout, Actor(user=users["mallory"]))
    reader, _ = ApiToken.issue(project, "reader", ["read"])
    with pytest.raises(Refused, match="needs the 'release' scope"):
        services.cancel_rollout(rollout, Actor(token=reader))
    ci, _ = ApiToken.issue(project, "ci", ["release"])
    services.cancel_rollout(rollout, Actor(token=ci))
    with pytest.raises(Refused, match="neither staff nor an approver"):
        services.redeploy(release, Actor(user=users["mallory"]))
    again = services.redeploy(release, Actor(token=ci))
    assert again.status == RolloutStatus.RUNNING  # test done again (nothing to apply), staging waits
    assert again.stages.get(environment__slug="test").status == StageStatus.SUCCEEDED


def test_a_stage_without_target_databases_is_blocked_not_passed(world):
    project, envs, users, tmp = world
    DatabaseGroup.objects.create(environment=envs["test"], name="eu", name_pattern="eu-*")  # matches nothing
    release, _ = services.create_release(project, commit="6" * 40, files=sql_files(1))
    test = release.rollouts.get().stages.get(environment__slug="test")
    assert test.status == StageStatus.BLOCKED and "no target database" in test.error
    Database.objects.create(environment=envs["test"], name="eu-1", url=f"sqlite:///{tmp / 'eu1'}.db")
    services.run_stage(test, Actor(user=User.objects.create_user("ops", is_staff=True)))
    test.refresh_from_db()
    assert test.status == StageStatus.SUCCEEDED
    assert [t["name"] for t in test.resolved_targets] == ["eu-1"]


def test_the_history_mirror_follows_the_target(world):
    """AppliedMigration copies the target's history: new rows, changed rows (a partial file
    finished), rows gone (repaired away); the same history again writes nothing."""
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from releases.models import AppliedMigration
    from releases.runner.adapters.base import HistoryRow

    _, envs, _, _ = world
    database = envs["test"].databases.get()
    at = dt.datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=dt.UTC)

    def row(version, status="applied", done=2):
        return HistoryRow(version, f"step {version}", "V", "c" * 64, status, done, 2, "rel-20261126-01",
                          "sluice:rel-20261126-01", at, 7, None)

    database.mirror_history([row("1"), row("2", "partial", 1), row("3")])
    mirror = {m.version: m for m in AppliedMigration.objects.filter(database=database)}
    assert sorted(mirror) == ["1", "2", "3"]
    assert (mirror["2"].status, mirror["2"].statements_done, mirror["2"].applied_at) == ("partial", 1, at)
    assert mirror["1"].release_uid == "rel-20261126-01" and mirror["1"].duration_ms == 7

    database.mirror_history([row("1"), row("2"), row("4")])  # 2 finished, 3 repaired away, 4 new
    mirror = {m.version: m for m in AppliedMigration.objects.filter(database=database)}
    assert sorted(mirror) == ["1", "2", "4"]
    assert (mirror["2"].status, mirror["2"].statements_done) == ("applied", 2)

    with CaptureQueriesContext(connection) as queries:
        database.mirror_history([row("1"), row("2"), row("4")])
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "COMMIT",
                                                                                  "RELEASE", "BEGIN"))]
    assert writes == []


def test_a_file_a_review_blocked_is_reviewed_again_in_the_next_release_that_carries_it(world):
    """R2's DROP is blocked at test; R3 repeats R2's files and adds one: the DROP is not new since
    R2, but the test environment never let it through, so R3's review still finds it."""
    project, envs, users, tmp = world
    keep = ("migrations/202501010001_keep.sql", b"CREATE TABLE keep (id integer PRIMARY KEY);\n")
    drop = ("migrations/202501010002_drop.sql", b"DROP TABLE keep;\n")
    more = ("migrations/202501010003_more.sql", b"CREATE TABLE more (id integer PRIMARY KEY);\n")
    services.create_release(project, commit="a" * 40, files=[keep])
    r2, _ = services.create_release(project, commit="b" * 40, files=[keep, drop])
    assert r2.rollouts.get().stages.get(environment__slug="test").status == StageStatus.BLOCKED
    r3, _ = services.create_release(project, commit="c" * 40, files=[keep, drop, more])
    test = r3.rollouts.get().stages.get(environment__slug="test")
    assert test.status == StageStatus.BLOCKED and test.review["files"] == 2
    assert [f["rule"] for f in test.review["findings"]] == ["table.disallow-drop"]
    assert query(url(tmp, "test"), "SELECT name FROM sqlite_master WHERE name = 'keep'") == [("keep",)]
    # Once let through (an override with a reason), a later release is reviewed for its new files only.
    envs["test"].approver_group = Group.objects.get(name="release-managers")
    envs["test"].save()
    services.run_stage(test, Actor(user=users["bob"]), override_review="keep was never used (INC-7)")
    last = ("migrations/202501010004_last.sql", b"CREATE TABLE last (id integer PRIMARY KEY);\n")
    r4, _ = services.create_release(project, commit="d" * 40, files=[keep, drop, more, last])
    test = r4.rollouts.get().stages.get(environment__slug="test")
    assert test.status == StageStatus.SUCCEEDED and test.review["files"] == 1
