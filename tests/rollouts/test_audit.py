"""Gates that must hold for every caller, found in an audit: approvals that no longer count,
tokens of another project, and rows that the admin must not edit behind the workflow's back."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from gitops.models import ApiToken
from releases import services
from releases.models import Database, Environment, Project, RolloutMode, StageStatus
from releases.services import Actor, Refused
from tests.helpers import history_rows

pytestmark = pytest.mark.django_db(transaction=True)


def sql_files(n: int, start: int = 1) -> list[tuple[str, bytes]]:
    return [
        (f"migrations/{202501010000 + i}_step_{i}.sql",
         f"CREATE TABLE t{i} (id integer PRIMARY KEY);\nINSERT INTO t{i} (id) VALUES ({i});\n".encode())
        for i in range(start, start + n)
    ]


@pytest.fixture
def world(tmp_path):
    """shop: test (automatic) → staging (manual, 1) → prod (manual, 2); bob and carol approve."""
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
    for name in ("bob", "carol", "dave"):
        users[name] = User.objects.create_user(name, f"{name}@example.com", "pw")
        users[name].groups.add(approvers)
    release, _ = services.create_release(project, commit="a" * 40, files=sql_files(2))
    stages = {s.environment.slug: s for s in release.rollouts.get().stages.all()}
    services.approve(stages["staging"], Actor(user=users["bob"]))
    return project, envs, users, stages, approvers, tmp_path


def prod_after(stages) -> StageStatus:
    stages["prod"].refresh_from_db()
    return stages["prod"]


def test_an_approval_stops_counting_when_its_approver_leaves_the_group(world):
    project, envs, users, stages, approvers, tmp = world
    services.approve(stages["prod"], Actor(user=users["bob"]))
    users["bob"].groups.remove(approvers)
    services.approve(stages["prod"], Actor(user=users["carol"]))
    prod = prod_after(stages)
    assert prod.status == StageStatus.AWAITING_APPROVAL
    assert prod.error.startswith("1 of 2 approval(s)")
    assert history_rows(f"sqlite:///{tmp / 'prod'}.db") == {}

    services.approve(stages["prod"], Actor(user=users["dave"]))
    assert prod_after(stages).status == StageStatus.SUCCEEDED


def test_an_approval_stops_counting_when_its_approver_is_deactivated(world):
    project, envs, users, stages, approvers, tmp = world
    services.approve(stages["prod"], Actor(user=users["bob"]))
    User.objects.filter(pk=users["bob"].pk).update(is_active=False)
    services.approve(stages["prod"], Actor(user=users["carol"]))
    assert prod_after(stages).status == StageStatus.AWAITING_APPROVAL
    assert history_rows(f"sqlite:///{tmp / 'prod'}.db") == {}


def test_a_token_approval_stops_counting_when_the_token_is_revoked_or_its_grant_removed(world):
    project, envs, users, stages, approvers, tmp = world
    revoked, _ = ApiToken.issue(project, "bot-1", ["read"])
    ungranted, _ = ApiToken.issue(project, "bot-2", ["read"])
    for token in (revoked, ungranted):
        token.approve_environments.add(envs["prod"])
    services.approve(stages["prod"], Actor(token=revoked))
    revoked.revoke()
    services.approve(stages["prod"], Actor(token=ungranted))
    ungranted.approve_environments.remove(envs["prod"])
    services.approve(stages["prod"], Actor(user=users["carol"]))
    prod = prod_after(stages)
    assert prod.status == StageStatus.AWAITING_APPROVAL and prod.error.startswith("1 of 2")
    assert history_rows(f"sqlite:///{tmp / 'prod'}.db") == {}


def test_a_token_of_another_project_cannot_approve_even_if_granted(world):
    project, envs, users, stages, approvers, tmp = world
    other = Project.objects.create(slug="other", name="Other")
    token, _ = ApiToken.issue(other, "deployer", ["read"])
    token.approve_environments.add(envs["prod"])  # a grant the admin's form lets anyone pick
    with pytest.raises(Refused, match="belongs to project other") as refused:
        services.approve(stages["prod"], Actor(token=token))
    assert refused.value.status == 403
    assert stages["prod"].approvals.count() == 0


def _change_form_data(client, url: str) -> dict:
    """The admin change form's data as rendered (main form and inlines), ready to post back."""
    context = client.get(url).context
    data = {}
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({formset.management_form.add_prefix(k): v for k, v in formset.management_form.initial.items()})
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is None:
                continue
            if hasattr(value, "pk"):
                value = value.pk
            data[form.add_prefix(name)] = field.prepare_value(value) if name != "id" else value
    return data


def test_the_admin_cannot_reorder_a_stage_or_clear_its_review(world, admin_client):
    project, envs, users, stages, approvers, tmp = world
    prod = stages["prod"]
    prod.review = {"policy": "recommended", "errors": 2, "findings": []}
    prod.save(update_fields=["review"])
    url = f"/admin/releases/stage/{prod.pk}/change/"
    data = _change_form_data(admin_client, url)
    data.update(order="0", review='{"errors": 0}')
    response = admin_client.post(url, data)
    assert response.status_code == 302
    prod.refresh_from_db()
    assert (prod.order, prod.review["errors"], prod.environment_id) == (3, 2, envs["prod"].pk)


def test_the_admin_cannot_point_a_task_at_another_database(world, admin_client):
    project, envs, users, stages, approvers, tmp = world
    task = stages["prod"].tasks.get()
    other = Database.objects.create(environment=envs["test"], name="elsewhere", url=f"sqlite:///{tmp / 'x'}.db")
    url = f"/admin/releases/task/{task.pk}/change/"
    data = _change_form_data(admin_client, url)
    data.update(database=str(other.pk), stage=str(stages["staging"].pk), cancelled_by="failure_policy")
    response = admin_client.post(url, data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.database_id, task.stage_id, task.cancelled_by) == (Database.objects.get(name="prod-db").pk,
                                                                   stages["prod"].pk, "")


def test_the_admin_cannot_move_a_rollout_to_another_release(world, admin_client):
    project, envs, users, stages, approvers, tmp = world
    rollout = stages["prod"].rollout
    newer, _ = services.create_release(project, commit="b" * 40, files=sql_files(3))
    url = f"/admin/releases/rollout/{rollout.pk}/change/"
    data = _change_form_data(admin_client, url)
    data.update(release=str(newer.pk))
    response = admin_client.post(url, data)
    assert response.status_code == 302
    rollout.refresh_from_db()
    assert rollout.release_id != newer.pk


def test_a_retried_task_runs_although_another_task_of_its_stop_stage_failed_too(world):
    """Two databases failed (they ran side by side); the operator fixes one and retries it: it
    runs. The stop policy still keeps databases that were never tried from starting."""
    from releases.models import FailurePolicy, TaskStatus
    from tests.helpers import query

    project, envs, users, stages, approvers, tmp = world
    test = envs["test"]
    test.failure_policy = FailurePolicy.CONTINUE
    test.save()
    for i in range(2):
        Database.objects.create(environment=test, name=f"test-x{i}", url=f"sqlite:///{tmp / f'x{i}'}.db")
        query(f"sqlite:///{tmp / f'x{i}'}.db", "CREATE TABLE t1 (id integer)")
    release, _ = services.create_release(project, commit="c" * 40, files=sql_files(1))
    stage = release.rollouts.get().stages.get(environment__slug="test")
    assert dict(stage.tasks.values_list("database__name", "status")) == {
        "test-db": TaskStatus.SUCCEEDED, "test-x0": TaskStatus.FAILED, "test-x1": TaskStatus.FAILED}
    test.failure_policy = FailurePolicy.STOP
    test.save()
    query(f"sqlite:///{tmp / 'x0'}.db", "DROP TABLE t1")
    staff = User.objects.create_user("ops", is_staff=True)
    task = services.retry_task(stage.tasks.get(database__name="test-x0"), Actor(user=staff))
    assert (task.status, task.attempts, task.error) == (TaskStatus.SUCCEEDED, 2, "")
    assert len(history_rows(f"sqlite:///{tmp / 'x0'}.db")) == 1
    stage.refresh_from_db()
    assert stage.status == StageStatus.FAILED and stage.error == "failed on test-x1"


def test_running_a_stage_of_a_cancelled_rollout_is_refused_and_not_recorded_as_run(world):
    from releases.models import AuditEvent

    project, envs, users, stages, approvers, tmp = world
    rollout = stages["prod"].rollout
    services.cancel_rollout(rollout, Actor(user=users["bob"]), reason="freeze")
    with pytest.raises(Refused, match="cancelled") as refused:
        services.run_stage(stages["prod"], Actor(user=users["bob"]))
    assert refused.value.code == "rollout_finished"
    assert not AuditEvent.objects.filter(verb="stage.run").exists()
