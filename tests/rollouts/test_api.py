"""The release API (/api/v1/…releases, stages, tasks, databases) with real bearer tokens and
session logins. django-q2 runs in sync mode, so a stage that starts runs in-process on SQLite
targets before the response is written."""

from __future__ import annotations

import base64
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from rest_framework.test import APIClient

from gitops.models import ApiToken
from releases.models import (
    Approval,
    AuditEvent,
    Database,
    Environment,
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
from tests.helpers import history_rows

pytestmark = pytest.mark.django_db(transaction=True)

SHA = "a" * 40
VCS = {
    "provider": "github",
    "repo": "acme/shop",
    "pr": 42,
    "author": "alice-gh",
    "author_email": "alice@example.com",
    "url": "https://github.com/acme/shop/pull/42",
}


def sql_files(n: int = 3, start: int = 1) -> list[dict]:
    return [
        {
            "path": f"migrations/{202501010000 + i}_step_{i}.sql",
            "content": f"CREATE TABLE t{i} (id integer PRIMARY KEY);\nINSERT INTO t{i} (id) VALUES ({i});\n",
        }
        for i in range(start, start + n)
    ]


def token_client(project: Project, scopes: list[str], name: str = "ci") -> tuple[APIClient, ApiToken]:
    token, raw = ApiToken.issue(project, name, scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, token


def session(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def world(tmp_path):
    """shop: test (automatic) → staging (manual, 1 approval) → prod (manual, 2), one SQLite database
    each; alice, bob and carol approve, mallory does not, sam is staff; ci has every scope."""
    approvers = Group.objects.create(name="release-managers")
    project = Project.objects.create(slug="shop", name="Shop")
    envs, databases = {}, {}
    for order, (slug, mode, approvals) in enumerate(
        [
            ("test", RolloutMode.AUTOMATIC, 0),
            ("staging", RolloutMode.MANUAL, 1),
            ("prod", RolloutMode.MANUAL, 2),
        ],
        1,
    ):
        envs[slug] = Environment.objects.create(
            project=project,
            slug=slug,
            order=order,
            rollout=mode,
            required_approvals=approvals,
            approver_group=approvers if mode == RolloutMode.MANUAL else None,
        )
        databases[slug] = Database.objects.create(
            environment=envs[slug], name=f"{slug}-db", url=f"sqlite:///{tmp_path / slug}.db"
        )
    users = {
        name: User.objects.create_user(name, f"{name}@example.com", "pw")
        for name in ("alice", "bob", "carol", "mallory")
    }
    for name in ("alice", "bob", "carol"):
        users[name].groups.add(approvers)
    users["sam"] = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
    ci, _ = token_client(project, ["check", "release", "read"])
    return SimpleNamespace(
        project=project,
        envs=envs,
        databases=databases,
        users=users,
        ci=ci,
        tmp=tmp_path,
        other=Project.objects.create(slug="other", name="Other"),
    )


def release(
    client: APIClient, commit: str = SHA, files: list[dict] | None = None, project: str = "shop", **extra
):
    body = {
        "commit": commit,
        "branch": "main",
        "title": "Add steps",
        "vcs": VCS,
        "files": sql_files() if files is None else files,
        **extra,
    }
    return client.post(f"/api/v1/projects/{project}/releases", body, format="json")


def released(world, **kwargs) -> dict:
    response = release(world.ci, **kwargs)
    assert response.status_code == 201, response.json()
    return response.json()


def stages(doc: dict) -> dict[str, dict]:
    return {s["environment"]: s for s in doc["rollout"]["stages"]}


def stage_row(uid: str, env: str) -> Stage:
    return Stage.objects.filter(rollout__release__uid=uid, environment__slug=env).latest(
        "rollout__created_at"
    )


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def approve(client: APIClient, uid: str, env: str, **body):
    return client.post(f"/api/v1/releases/{uid}/stages/{env}/approve", body, format="json")


# -- creating ---------------------------------------------------------------------------------------


def test_it_creates_a_release_and_returns_the_same_one_for_the_same_commit(world):
    response = release(world.ci)
    assert response.status_code == 201
    doc = response.json()
    stored = Release.objects.get(uid=doc["uid"])
    assert (stored.commit_sha, stored.branch, stored.title) == (SHA, "main", "Add steps")
    assert (stored.pull_request, stored.author, stored.author_email) == (
        "42",
        "alice-gh",
        "alice@example.com",
    )
    assert stored.created_by == "token:shop/ci"
    assert stored.files.count() == 3
    assert doc["url"] == f"http://testserver/api/v1/releases/{doc['uid']}"
    assert (doc["project"], doc["commit"], doc["file_count"], doc["new_file_count"]) == ("shop", SHA, 3, 3)
    assert doc["files"][0] == {
        "path": "migrations/202501010001_step_1.sql",
        "version": "202501010001",
        "description": "step_1",
        "kind": "ddl",
        "checksum": stored.files.get(version="202501010001").checksum,
        "is_new": True,
    }
    # The automatic first stage ran in-process; staging waits for its approval.
    by_env = stages(doc)
    assert by_env["test"]["status"] == "succeeded"
    assert by_env["test"]["resolved_targets"] == [
        {"id": world.databases["test"].pk, "name": "test-db", "engine": "sqlite"}
    ]
    [task] = by_env["test"]["tasks"]
    assert (task["database"]["name"], task["status"], task["attempts"], task["orphaned"]) == (
        "test-db",
        "succeeded",
        1,
        None,
    )
    assert task["duration_seconds"] is not None and task["worker"]
    assert len(history_rows(f"sqlite:///{world.tmp / 'test'}.db")) == 3
    assert (
        by_env["staging"]["status"],
        by_env["staging"]["rollout_mode"],
        by_env["staging"]["required_approvals"],
    ) == ("awaiting_approval", "manual", 1)
    assert by_env["prod"]["status"] == "waiting"
    assert [r["id"] for r in doc["rollouts"]] == [doc["rollout"]["id"]]

    again = release(world.ci)
    assert again.status_code == 200
    assert again.json()["uid"] == doc["uid"]
    assert Release.objects.count() == 1 and Rollout.objects.count() == 1


def test_the_same_commit_with_other_files_is_a_conflict(world):
    uid = released(world)["uid"]
    response = release(world.ci, files=sql_files(4))
    assert response.status_code == 409
    assert error(response)["code"] == "release_conflict"
    assert uid in error(response)["message"]
    assert Release.objects.get().files.count() == 3


@pytest.mark.parametrize(
    ("files", "bad"),
    [
        ([{"path": "migrations/add_users.sql", "content": "SELECT 1;"}], ["migrations/add_users.sql"]),
        (
            [
                {"path": "migrations/1_a.sql", "content": "SELECT 1;"},
                {"path": "migrations/v1_b.sql", "content": "SELECT 2;"},
            ],
            ["migrations/v1_b.sql"],
        ),
        (
            [{"path": "migrations/1_a.sql", "content_base64": base64.b64encode(b"SELECT '\xff';").decode()}],
            ["migrations/1_a.sql"],
        ),
        ([{"path": "migrations/1_a.sql", "content": ""}], ["migrations/1_a.sql"]),
    ],
    ids=["bad-name", "duplicate-version", "not-utf8", "empty"],
)
def test_invalid_files_are_refused_with_located_details_and_nothing_is_stored(world, files, bad):
    response = release(world.ci, files=[*sql_files(1, start=5), *files])
    assert response.status_code == 422
    body = error(response)
    assert body["code"] == "invalid_files"
    assert "nothing was stored" in body["message"]
    assert {d["file"] for d in body["details"]} >= set(bad)
    assert all(d["message"] for d in body["details"])
    assert "migrations/202501010005_step_5.sql" not in {d["file"] for d in body["details"]}
    assert (Release.objects.count(), ReleaseFile.objects.count(), Rollout.objects.count()) == (0, 0, 0)


def test_the_byte_offset_of_bad_bytes_is_given(world):
    data = base64.b64encode(b"SELECT 1;\nSELECT '\xff';\n").decode()
    response = release(world.ci, files=[{"path": "migrations/1_a.sql", "content_base64": data}])
    assert response.status_code == 422
    [detail] = error(response)["details"]
    assert (detail["file"], detail["offset"]) == ("migrations/1_a.sql", 18)


def test_a_path_leaving_the_repository_is_a_bad_request(world):
    response = release(world.ci, files=[{"path": "../x.sql", "content": "SELECT 1;"}])
    assert response.status_code == 400
    assert "'..'" in error(response)["message"]
    assert Release.objects.count() == 0


def test_a_path_given_twice_is_a_bad_request(world):
    response = release(world.ci, files=[*sql_files(1), *sql_files(1)])
    assert response.status_code == 400
    assert "given twice" in error(response)["message"]


def test_creating_needs_the_release_scope(world):
    client, _ = token_client(world.project, ["check", "read"], name="reader")
    response = release(client)
    assert response.status_code == 403
    assert "'release' scope" in error(response)["message"]
    assert Release.objects.count() == 0


def test_creating_refuses_a_token_of_another_project(world):
    client, _ = token_client(world.other, ["release", "read"])
    response = release(client)
    assert response.status_code == 403
    assert error(response)["message"] == "the token belongs to another project"


def test_creating_needs_credentials(world):
    assert release(APIClient()).status_code == 401


def test_creating_is_open_to_staff_but_not_to_approvers(world):
    assert release(session(world.users["bob"])).status_code == 403
    response = release(session(world.users["sam"]))
    assert response.status_code == 201
    assert Release.objects.get().created_by == "sam"


def test_creating_in_an_unknown_project_is_404(world):
    assert release(session(world.users["sam"]), project="nope").status_code == 404


# -- reading ----------------------------------------------------------------------------------------


def test_it_lists_a_projects_releases_newest_first(world):
    first = released(world, commit="1" * 40)["uid"]
    Rollout.objects.update(status=RolloutStatus.SUCCEEDED)  # let the second release be created freely
    second = released(world, commit="2" * 40, files=sql_files(4))["uid"]
    response = world.ci.get("/api/v1/projects/shop/releases")
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 2
    assert [r["uid"] for r in page["results"]] == [second, first]
    newest = page["results"][0]
    assert (newest["file_count"], newest["new_file_count"]) == (4, 1)
    assert "files" not in newest
    assert stages(newest)["test"]["status"] == "succeeded"

    page = world.ci.get("/api/v1/projects/shop/releases?limit=1&offset=1").json()
    assert [r["uid"] for r in page["results"]] == [first]


def test_listing_takes_a_fixed_number_of_queries(world, django_assert_num_queries):
    bob = session(world.users["bob"])
    for i in range(1, 5):
        uid = released(world, commit=str(i) * 40, files=sql_files(i))["uid"]
        approve(bob, uid, "staging")
        Rollout.objects.update(status=RolloutStatus.SUCCEEDED)
    # token, count, releases, rollouts, latest rollouts, stages, tasks, approvals, the approvers'
    # groups and VCS identities, and the environment's current targets (groups, databases) to
    # tell which approvals still count.
    with django_assert_num_queries(13):
        response = world.ci.get("/api/v1/projects/shop/releases")
    assert len(response.json()["results"]) == 4


def test_reading_is_open_to_the_projects_approvers_and_staff(world):
    uid = released(world)["uid"]
    for name in ("bob", "sam"):
        client = session(world.users[name])
        assert client.get(f"/api/v1/releases/{uid}").status_code == 200
        assert client.get("/api/v1/projects/shop/releases").status_code == 200
    mallory = session(world.users["mallory"])
    for url in (f"/api/v1/releases/{uid}", "/api/v1/projects/shop/releases"):
        response = mallory.get(url)
        assert response.status_code == 403
        assert "mallory is not staff and not in the approver group" in error(response)["message"]


def test_reading_refuses_other_projects_tokens_and_tokens_without_read(world):
    uid = released(world)["uid"]
    other, _ = token_client(world.other, ["read"])
    for url in (f"/api/v1/releases/{uid}", "/api/v1/projects/shop/releases"):
        assert APIClient().get(url).status_code == 401
    # Another project's release is not found (as a check is); a URL naming another project is refused.
    assert other.get(f"/api/v1/releases/{uid}").status_code == 404
    response = other.get("/api/v1/projects/shop/releases")
    assert response.status_code == 403
    assert error(response)["message"] == "the token belongs to another project"
    writer, _ = token_client(world.project, ["release"], name="writer")
    assert writer.get(f"/api/v1/releases/{uid}").status_code == 403


def test_an_unknown_release_is_404(world):
    response = world.ci.get("/api/v1/releases/rel-20000101-01")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


# -- approvals and stage actions --------------------------------------------------------------------


def test_an_approver_moves_the_release_on_and_the_approval_is_shown(world):
    uid = released(world)["uid"]
    response = approve(session(world.users["bob"]), uid, "staging", comment="looks good")
    assert response.status_code == 200
    by_env = stages(response.json())
    assert by_env["staging"]["status"] == "succeeded"
    [approval] = by_env["staging"]["approvals"]
    assert {k: approval[k] for k in ("by", "decision", "comment", "valid")} == {
        "by": "bob",
        "decision": "approve",
        "comment": "looks good",
        "valid": True,
    }
    assert by_env["prod"]["status"] == "awaiting_approval"
    assert by_env["prod"]["error"] == "0 of 2 approval(s)"
    assert stage_row(uid, "staging").status == StageStatus.SUCCEEDED
    assert AuditEvent.objects.filter(verb="stage.approve", actor=world.users["bob"]).count() == 1


def test_an_approval_for_other_targets_is_shown_as_no_longer_valid(world):
    uid = released(world)["uid"]
    approve(session(world.users["bob"]), uid, "staging")
    approve(session(world.users["bob"]), uid, "prod")
    Database.objects.create(
        environment=world.envs["prod"], name="prod-db-2", url=f"sqlite:///{world.tmp}/p2.db"
    )
    doc = world.ci.get(f"/api/v1/releases/{uid}").json()
    [approval] = stages(doc)["prod"]["approvals"]
    assert approval["valid"] is False


def test_approving_needs_a_member_of_the_approver_group(world):
    uid = released(world)["uid"]
    response = approve(session(world.users["mallory"]), uid, "staging")
    assert response.status_code == 403
    body = error(response)
    assert body["code"] == "not_an_approver"
    assert body["message"] == "mallory is not in release-managers, the approver group of staging"
    assert stage_row(uid, "staging").approvals.count() == 0


def test_the_author_may_not_approve_their_release(world):
    uid = released(world)["uid"]
    response = approve(session(world.users["alice"]), uid, "staging")
    assert response.status_code == 403
    assert error(response)["code"] == "self_approval"
    assert "alice is the author of" in error(response)["message"]
    assert stage_row(uid, "staging").status == StageStatus.AWAITING_APPROVAL


def test_a_token_granted_approve_on_staging_may_approve_staging_only(world):
    uid = released(world)["uid"]
    client, token = token_client(world.project, ["read"], name="deployer")
    token.approve_environments.add(world.envs["staging"])
    response = approve(client, uid, "staging")
    assert response.status_code == 200
    [approval] = stages(response.json())["staging"]["approvals"]
    assert approval["by"] == "token:shop/deployer"
    assert stage_row(uid, "staging").status == StageStatus.SUCCEEDED

    response = approve(client, uid, "prod")
    assert response.status_code == 403
    assert error(response)["message"] == "token deployer is not granted approve on environment prod"
    assert stage_row(uid, "prod").approvals.count() == 0


def test_prod_cannot_be_approved_before_staging_succeeded(world):
    uid = released(world)["uid"]
    response = approve(session(world.users["bob"]), uid, "prod")
    assert response.status_code == 409
    assert error(response)["code"] == "out_of_order"
    assert "staging has not succeeded yet" in error(response)["message"]


def test_a_rejected_stage_cannot_be_approved(world):
    uid = released(world)["uid"]
    response = session(world.users["carol"]).post(
        f"/api/v1/releases/{uid}/stages/staging/reject", {"comment": "not on a Friday"}, format="json"
    )
    assert response.status_code == 200
    staging = stages(response.json())["staging"]
    assert staging["status"] == "blocked"
    assert staging["approvals"][0]["decision"] == "reject"
    assert staging["error"].startswith("rejected by carol")

    response = approve(session(world.users["bob"]), uid, "staging")
    assert response.status_code == 409
    assert error(response)["code"] == "stage_rejected"


def test_approving_needs_credentials_and_a_known_stage(world):
    uid = released(world)["uid"]
    assert approve(APIClient(), uid, "staging").status_code == 401
    response = approve(session(world.users["bob"]), uid, "qa")
    assert response.status_code == 404
    assert "no stage for environment 'qa'" in error(response)["message"]


def test_run_refuses_a_stage_whose_approvals_are_missing(world):
    uid = released(world)["uid"]
    response = session(world.users["bob"]).post(
        f"/api/v1/releases/{uid}/stages/staging/run", {}, format="json"
    )
    assert response.status_code == 409
    assert error(response)["code"] == "gate_closed"
    assert "0 of 1 approval(s)" in error(response)["message"]
    response = session(world.users["mallory"]).post(
        f"/api/v1/releases/{uid}/stages/staging/run", {}, format="json"
    )
    assert response.status_code == 403


def test_skipping_a_stage_needs_a_reason(world):
    uid = released(world)["uid"]
    sam = session(world.users["sam"])
    response = sam.post(f"/api/v1/releases/{uid}/stages/staging/skip", {}, format="json")
    assert response.status_code == 400
    assert error(response)["details"] == [{"field": "reason", "message": "This field is required."}]
    response = sam.post(
        f"/api/v1/releases/{uid}/stages/staging/skip", {"reason": "staging is down"}, format="json"
    )
    assert response.status_code == 200
    by_env = stages(response.json())
    assert by_env["staging"]["status"] == "skipped"
    assert by_env["staging"]["error"] == "skipped by sam: staging is down"
    assert by_env["prod"]["status"] == "awaiting_approval"


# -- cancel and re-deploy ---------------------------------------------------------------------------


def test_cancel_stops_the_rollout(world):
    uid = released(world)["uid"]
    assert (
        session(world.users["mallory"]).post(f"/api/v1/releases/{uid}/cancel", {}, format="json").status_code
        == 403
    )
    response = world.ci.post(f"/api/v1/releases/{uid}/cancel", {"reason": "wrong branch"}, format="json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["rollout"]["status"] == "cancelled"
    assert doc["rollout"]["error"] == "cancelled by token:shop/ci: wrong branch"
    by_env = stages(doc)
    assert (by_env["test"]["status"], by_env["staging"]["status"], by_env["prod"]["status"]) == (
        "succeeded",
        "cancelled",
        "cancelled",
    )
    assert Rollout.objects.get().status == RolloutStatus.CANCELLED

    again = world.ci.post(f"/api/v1/releases/{uid}/cancel", {}, format="json")
    assert again.status_code == 409
    assert error(again)["code"] == "rollout_finished"


def test_a_redeploy_makes_a_new_rollout_that_applies_nothing_twice(world):
    uid = released(world)["uid"]
    response = world.ci.post(f"/api/v1/releases/{uid}/rollouts", format="json")
    assert response.status_code == 409
    assert error(response)["code"] == "rollout_active"

    bob, carol = session(world.users["bob"]), session(world.users["carol"])
    approve(bob, uid, "staging")
    approve(bob, uid, "prod")
    assert approve(carol, uid, "prod").json()["rollout"]["status"] == "succeeded"

    response = world.ci.post(f"/api/v1/releases/{uid}/rollouts", format="json")
    assert response.status_code == 201
    doc = response.json()
    assert len(doc["rollouts"]) == 2
    assert doc["rollout"]["id"] == doc["rollouts"][0]["id"] != doc["rollouts"][1]["id"]
    assert stages(doc)["staging"]["status"] == "awaiting_approval"  # approvals are per rollout
    approve(bob, uid, "staging")
    approve(bob, uid, "prod")
    doc = approve(carol, uid, "prod").json()
    assert doc["rollout"]["status"] == "succeeded"
    assert [r["status"] for r in doc["rollouts"]] == ["succeeded", "succeeded"]
    new_runs = TaskRun.objects.filter(task__stage__rollout_id=doc["rollout"]["id"])
    assert new_runs.count() == 3
    for run in new_runs:
        assert "nothing to apply" in run.log
        assert {o["action"] for o in run.outcomes} == {"skipped"}
    for env in ("test", "staging", "prod"):
        assert len(history_rows(f"sqlite:///{world.tmp / env}.db")) == 3


# -- tasks ------------------------------------------------------------------------------------------


def test_a_failed_task_is_retried_after_the_fix(world):
    good = world.databases["test"].url
    Database.objects.filter(pk=world.databases["test"].pk).update(
        url=f"sqlite:///{world.tmp}/missing/dir/test.db"
    )
    doc = released(world)
    assert doc["rollout"]["status"] == "failed"
    test = stages(doc)["test"]
    assert (test["status"], test["error"]) == ("failed", "failed on test-db")
    [task] = test["tasks"]
    assert task["status"] == "failed" and task["error"]

    detail = world.ci.get(f"/api/v1/tasks/{task['id']}").json()
    [run] = detail["runs"]
    assert (run["attempt"], run["status"]) == (1, "failed")
    assert run["error"] == task["error"] and "error:" in run["log"]

    response = session(world.users["mallory"]).post(f"/api/v1/tasks/{task['id']}/retry", format="json")
    assert response.status_code == 403
    Database.objects.filter(pk=world.databases["test"].pk).update(url=good)
    response = session(world.users["sam"]).post(f"/api/v1/tasks/{task['id']}/retry", format="json")
    assert response.status_code == 200
    retried = response.json()
    assert (retried["status"], retried["attempts"]) == ("succeeded", 2)
    assert [(r["attempt"], r["status"]) for r in retried["runs"]] == [(1, "failed"), (2, "succeeded")]
    assert stage_row(doc["uid"], "test").status == StageStatus.SUCCEEDED
    assert stage_row(doc["uid"], "staging").status == StageStatus.AWAITING_APPROVAL

    again = session(world.users["sam"]).post(f"/api/v1/tasks/{task['id']}/retry", format="json")
    assert again.status_code == 409
    assert error(again)["code"] == "task_not_failed"


def test_a_failed_task_can_be_skipped_with_a_reason(world):
    Database.objects.filter(pk=world.databases["test"].pk).update(
        url=f"sqlite:///{world.tmp}/missing/dir/test.db"
    )
    doc = released(world)
    [task] = stages(doc)["test"]["tasks"]
    sam = session(world.users["sam"])
    response = sam.post(f"/api/v1/tasks/{task['id']}/skip", {"reason": " "}, format="json")
    assert response.status_code == 400
    response = sam.post(f"/api/v1/tasks/{task['id']}/skip", {"reason": "rebuilt by hand"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "skipped"
    assert response.json()["error"] == "skipped by sam: rebuilt by hand"
    assert Task.objects.get(pk=task["id"]).status == TaskStatus.SKIPPED
    assert stage_row(doc["uid"], "staging").status == StageStatus.AWAITING_APPROVAL


def test_a_task_shows_its_runs_with_their_outcomes(world):
    doc = released(world)
    [task] = stages(doc)["test"]["tasks"]
    response = world.ci.get(f"/api/v1/tasks/{task['id']}")
    assert response.status_code == 200
    detail = response.json()
    assert (detail["release"], detail["environment"], detail["rollout"]) == (
        doc["uid"],
        "test",
        doc["rollout"]["id"],
    )
    assert detail["database"] == {"id": world.databases["test"].pk, "name": "test-db", "engine": "sqlite"}
    [run] = detail["runs"]
    assert (run["attempt"], run["status"], run["error"]) == (1, "succeeded", "")
    assert [(o["version"], o["action"]) for o in run["outcomes"]] == [
        ("202501010001", "applied"),
        ("202501010002", "applied"),
        ("202501010003", "applied"),
    ]
    assert "3 applied" in run["log"]
    assert run["duration_seconds"] is not None


def test_a_task_whose_worker_stopped_beating_is_shown_orphaned(world):
    doc = released(world)
    [task] = stages(doc)["test"]["tasks"]
    Task.objects.filter(pk=task["id"]).update(
        status=TaskStatus.RUNNING, worker="elsewhere:1", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    detail = world.ci.get(f"/api/v1/tasks/{task['id']}").json()
    assert detail["orphaned"].startswith("worker elsewhere:1 stopped: no heartbeat")
    listed = world.ci.get(f"/api/v1/releases/{doc['uid']}").json()
    assert stages(listed)["test"]["tasks"][0]["orphaned"] == detail["orphaned"]


def test_reading_a_task_needs_read_access_to_its_project(world):
    [task] = stages(released(world))["test"]["tasks"]
    other, _ = token_client(world.other, ["read"])
    assert other.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert session(world.users["mallory"]).get(f"/api/v1/tasks/{task['id']}").status_code == 403
    assert session(world.users["bob"]).get(f"/api/v1/tasks/{task['id']}").status_code == 200
    assert APIClient().get(f"/api/v1/tasks/{task['id']}").status_code == 401
    assert world.ci.get("/api/v1/tasks/999999").status_code == 404


# -- databases and passwords ------------------------------------------------------------------------


def test_database_history_lists_the_applied_versions(world):
    uid = released(world)["uid"]
    database = world.databases["test"]
    response = world.ci.get(f"/api/v1/databases/{database.pk}/history")
    assert response.status_code == 200
    doc = response.json()
    assert {k: doc[k] for k in ("id", "name", "engine", "project", "environment")} == {
        "id": database.pk,
        "name": "test-db",
        "engine": "sqlite",
        "project": "shop",
        "environment": "test",
    }
    assert [row["version"] for row in doc["history"]] == ["202501010001", "202501010002", "202501010003"]
    row = doc["history"][0]
    assert (
        row["status"],
        row["release_uid"],
        row["kind"],
        row["statements_done"],
        row["statements_total"],
    ) == ("applied", uid, "ddl", 2, 2)
    assert row["applied_by"] == f"sluice:{uid}" and row["applied_at"]
    assert not {"url", "password", "password_encrypted", "password_env"} & set(doc)

    other, _ = token_client(world.other, ["read"])
    assert other.get(f"/api/v1/databases/{database.pk}/history").status_code == 404
    assert session(world.users["mallory"]).get(f"/api/v1/databases/{database.pk}/history").status_code == 403
    assert world.ci.get(f"/api/v1/databases/{world.databases['staging'].pk}/history").json()["history"] == []


def test_no_response_shows_password_material(world, monkeypatch):
    monkeypatch.setenv("SLUICE_DB_PASSWORD_SHOP_STAGING", "env-s3cret")
    test_db = world.databases["test"]
    test_db.set_password("s3cret-pw")
    test_db.save()
    staging_db = world.databases["staging"]
    staging_db.password_env = "SLUICE_DB_PASSWORD_SHOP_STAGING"
    staging_db.save()
    secrets = ["s3cret-pw", "env-s3cret", "SLUICE_DB_PASSWORD_SHOP_STAGING", test_db.password_encrypted]

    bob = session(world.users["bob"])
    responses = [release(world.ci)]
    uid = responses[0].json()["uid"]
    [task] = stages(responses[0].json())["test"]["tasks"]
    responses += [
        approve(bob, uid, "staging"),
        world.ci.get(f"/api/v1/releases/{uid}"),
        world.ci.get("/api/v1/projects/shop/releases"),
        world.ci.get(f"/api/v1/tasks/{task['id']}"),
        world.ci.get(f"/api/v1/databases/{test_db.pk}/history"),
        world.ci.get(f"/api/v1/databases/{staging_db.pk}/history"),
    ]
    assert stage_row(uid, "staging").status == StageStatus.SUCCEEDED  # the passwords were not in the way
    for response in responses:
        assert response.status_code in (200, 201), response.content
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body


def test_a_browser_approval_needs_the_csrf_token(world):
    """In the browser (session cookie), an approval is a state change: Django's CSRF check applies."""
    uid = released(world)["uid"]
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(world.users["bob"])
    url = f"/api/v1/releases/{uid}/stages/staging/approve"
    refused = browser.post(url, {"comment": "ok"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert not Approval.objects.exists()
    browser.get("/admin/login/")  # any page with a form hands the browser its CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(url, {"comment": "ok"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200, accepted.json()
    assert Approval.objects.get().user == world.users["bob"]
