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
from tests.rollouts.test_services import sql_files

pytestmark = pytest.mark.django_db(transaction=True)


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


# -- follow-ups of the audit ---------------------------------------------------------------------------


def test_a_review_policy_in_use_cannot_be_deleted_and_the_admin_shows_what_uses_it(world, admin_client):
    from django.utils.html import strip_tags

    from reviews.models import ReviewPolicy

    project, envs, users, stages, approvers, tmp = world
    strict = ReviewPolicy.objects.create(name="prod-strict")
    envs["prod"].review_policy = strict
    envs["prod"].save()
    project.default_policy = strict
    project.save()
    url = f"/admin/reviews/reviewpolicy/{strict.pk}/delete/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "Cannot delete review policy" in page.content.decode()
    assert {strip_tags(item) for item in page.context["protected"]} >= {"Environment: shop/prod", "Project: shop"}
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 200 and "Cannot delete" in response.content.decode()
    envs["prod"].refresh_from_db()
    project.refresh_from_db()
    assert (envs["prod"].review_policy_id, project.default_policy_id) == (strict.pk, strict.pk)


def test_re_pointing_a_database_after_its_approval_asks_for_approval_again(world):
    project, envs, users, stages, approvers, tmp = world
    services.approve(stages["prod"], Actor(user=users["bob"]))
    database = Database.objects.get(name="prod-db")
    database.set_password("new-s3cret")  # a new password is the same target: the approval stands
    database.save()
    assert services.gate(prod_after(stages), [database]).reason == "1 of 2 approval(s)"
    database.url = f"sqlite:///{tmp / 'elsewhere'}.db"
    database.save()
    services.approve(stages["prod"], Actor(user=users["carol"]))
    prod = prod_after(stages)
    assert prod.status == StageStatus.AWAITING_APPROVAL
    assert prod.error == "1 of 2 approval(s); the target databases changed since an earlier approval: approve again"
    assert history_rows(f"sqlite:///{tmp / 'elsewhere'}.db") == {}


def test_the_token_admin_offers_and_accepts_only_the_tokens_own_environments(world, admin_client):
    project, envs, users, stages, approvers, tmp = world
    other = Project.objects.create(slug="other", name="Other")
    foreign = Environment.objects.create(project=other, slug="prod", order=1)
    token, _ = ApiToken.issue(project, "deployer", ["read"])
    url = f"/admin/gitops/apitoken/{token.pk}/change/"
    offered = admin_client.get(url).context["adminform"].form.fields["approve_environments"].queryset
    assert set(offered) == set(envs.values())
    data = _change_form_data(admin_client, url)
    data["approve_environments"] = [str(foreign.pk), str(envs["prod"].pk)]
    assert admin_client.post(url, data).status_code == 200  # the form again, with the error
    assert not token.approve_environments.exists()

    response = admin_client.post("/admin/gitops/apitoken/add/", {
        "project": str(project.pk), "name": "bot", "scopes": ["read"], "approve_environments": [str(foreign.pk)]})
    assert response.status_code == 200
    assert "may approve shop&#x27;s environments only, not other/prod" in response.content.decode()
    assert not ApiToken.objects.filter(name="bot").exists()


def test_the_api_shows_an_approval_whose_giver_may_no_longer_approve_as_not_valid(world):
    from rest_framework.test import APIClient

    project, envs, users, stages, approvers, tmp = world
    services.approve(stages["prod"], Actor(user=users["bob"]))
    services.approve(stages["prod"], Actor(user=users["carol"]))  # prod runs: carol's counts till the end
    release = stages["prod"].rollout.release
    newer, _ = services.create_release(project, commit="b" * 40, files=sql_files(3))
    newer_stages = {s.environment.slug: s for s in newer.rollouts.get().stages.all()}
    services.approve(newer_stages["staging"], Actor(user=users["bob"]))
    services.approve(newer_stages["prod"], Actor(user=users["bob"]))
    users["bob"].groups.remove(approvers)
    _, raw = ApiToken.issue(project, "ci", ["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    doc = client.get(f"/api/v1/releases/{newer.uid}").json()
    prod = {s["environment"]: s for s in doc["rollout"]["stages"]}["prod"]
    assert [(a["by"], a["valid"]) for a in prod["approvals"]] == [("bob", False)]
    assert prod["status"] == "awaiting_approval"
    listed = client.get("/api/v1/projects/shop/releases").json()["results"]
    assert [[(a["by"], a["valid"]) for a in s["approvals"]] for r in listed for s in r["rollout"]["stages"]
            if s["environment"] == "prod"] == [[("bob", False)], [("bob", False), ("carol", True)]]
    assert release.uid == listed[1]["uid"]


def _failed_then_redeployed(world):
    """A release whose test stage failed (its database's folder was missing), fixed and re-deployed."""
    from releases.models import RolloutStatus, TaskStatus

    project, envs, users, stages, approvers, tmp = world
    database = Database.objects.get(name="test-db")
    Database.objects.filter(pk=database.pk).update(url=f"sqlite:///{tmp}/missing/dir/test.db")
    release, _ = services.create_release(project, commit="c" * 40, files=sql_files(3))
    old = release.rollouts.get()
    assert old.status == RolloutStatus.FAILED
    Database.objects.filter(pk=database.pk).update(url=database.url)
    staff = User.objects.create_user("ops", is_staff=True)
    new = services.redeploy(release, Actor(user=staff))
    assert new.stages.get(environment__slug="test").status == StageStatus.SUCCEEDED
    task = old.stages.get(environment__slug="test").tasks.get()
    assert task.status == TaskStatus.FAILED
    return old, new, task, Actor(user=staff)


def test_a_task_of_a_rollout_replaced_by_a_redeploy_cannot_be_retried_or_skipped(world):
    from releases.models import RolloutStatus, TaskStatus

    old, new, task, staff = _failed_then_redeployed(world)
    for act in (lambda: services.retry_task(task, staff), lambda: services.skip_task(task, staff, "done by hand")):
        with pytest.raises(Refused, match=f"rollout {new.pk} \\(a re-deploy\\) replaced") as refused:
            act()
        assert (refused.value.status, refused.value.code) == (409, "rollout_superseded")
    old.refresh_from_db()
    task.refresh_from_db()
    assert (old.status, task.status, task.attempts) == (RolloutStatus.FAILED, TaskStatus.FAILED, 1)
    assert old.release.rollouts.filter(status__in=RolloutStatus.ACTIVE).get() == new


def test_a_task_declared_orphaned_whose_worker_finishes_after_all_says_how_it_ended(world, monkeypatch):
    """The worker was alive (a long pause, a slow control database): its finish is the truth."""
    from django.utils import timezone

    from releases import tasks
    from releases.models import Task, TaskRun, TaskStatus

    project, envs, users, stages, approvers, tmp = world
    real_apply = tasks.apply

    def apply_after_a_pause(target, files, options):
        task = Task.objects.get(status=TaskStatus.RUNNING)
        services._mark_orphaned(task, "no heartbeat for more than 4 s", timezone.now())  # what the sweep does
        return real_apply(target, files, options)

    monkeypatch.setattr(tasks, "apply", apply_after_a_pause)
    release, _ = services.create_release(project, commit="d" * 40, files=sql_files(3))
    stage = release.rollouts.get().stages.get(environment__slug="test")
    task = stage.tasks.get()
    run = TaskRun.objects.get(task=task)
    assert (task.status, task.error, run.status) == (TaskStatus.SUCCEEDED, "", TaskStatus.SUCCEEDED)
    assert "declared orphaned while its worker" in run.log and "it finished succeeded" in run.log
    assert len(history_rows(f"sqlite:///{tmp / 'test'}.db")) == 3
    stage.refresh_from_db()
    assert stage.status == StageStatus.SUCCEEDED
    assert release.rollouts.get().stages.get(environment__slug="staging").status == StageStatus.AWAITING_APPROVAL


def test_a_task_stopped_by_a_cancel_before_its_first_file_says_so(world, monkeypatch):
    from releases import tasks
    from releases.models import Rollout, RolloutStatus, TaskRun, TaskStatus

    project, envs, users, stages, approvers, tmp = world
    real_stop = tasks._Stop.__call__

    def cancelled_meanwhile(self):
        rollout = Rollout.objects.get(pk=self.rollout_id)
        if rollout.status != RolloutStatus.CANCELLED:
            services.cancel_rollout(rollout, Actor(user=users["bob"]), reason="freeze")
        return real_stop(self)

    monkeypatch.setattr(tasks._Stop, "__call__", cancelled_meanwhile)
    release, _ = services.create_release(project, commit="e" * 40, files=sql_files(3))
    run = TaskRun.objects.get(task__stage__rollout__release=release)
    assert run.status == TaskStatus.CANCELLED
    assert "nothing to apply" not in run.log
    assert "stopped by the rollout's cancel: 0 applied, 2 skipped, 1 not reached" in run.log


def test_the_workers_parsed_files_are_never_another_releases(world):
    """A deleted release's pk (and uid) taken again: the worker must apply the new release's files."""
    from releases import tasks
    from releases.models import Release, ReleaseFile

    project, envs, users, stages, approvers, tmp = world

    def release_with(pk, commit: str, path: str) -> Release:
        release = Release.objects.create(pk=pk, project=project, uid="rel-20250101-07", commit_sha=commit)
        ReleaseFile.objects.create(release=release, path=path, version=path.split("/")[1].split("_")[0],
                                   description="x", kind="ddl", checksum="v1:0", content="CREATE TABLE x (id int);")
        return release

    first = release_with(None, "1" * 40, "migrations/1_first.sql")
    assert [f.path for f in tasks._files(first)] == ["migrations/1_first.sql"]
    pk = first.pk
    first.delete()
    second = release_with(pk, "2" * 40, "migrations/2_second.sql")
    assert [f.path for f in tasks._files(second)] == ["migrations/2_second.sql"]


def test_another_projects_token_is_told_not_found_for_this_projects_objects(world):
    from rest_framework.test import APIClient

    project, envs, users, stages, approvers, tmp = world
    other = Project.objects.create(slug="other", name="Other")
    _, raw = ApiToken.issue(other, "ci", ["check", "release", "read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    uid = stages["prod"].rollout.release.uid
    task = stages["test"].tasks.get()
    database = Database.objects.get(name="test-db")
    for method, url in [
        ("get", f"/api/v1/releases/{uid}"),
        ("post", f"/api/v1/releases/{uid}/stages/prod/approve"),
        ("post", f"/api/v1/releases/{uid}/cancel"),
        ("post", f"/api/v1/releases/{uid}/rollouts"),
        ("get", f"/api/v1/tasks/{task.pk}"),
        ("post", f"/api/v1/tasks/{task.pk}/retry"),
        ("get", f"/api/v1/databases/{database.pk}/history"),
    ]:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 404, (url, response.json())
        assert response.json()["error"]["code"] == "not_found"
    assert stages["prod"].approvals.count() == 0
