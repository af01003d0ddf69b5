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
