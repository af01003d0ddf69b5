from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.utils import timezone

from gitops.models import ApiToken
from releases.models import (
    AppliedMigration,
    Approval,
    AuditEvent,
    Database,
    DatabaseGroup,
    Environment,
    Project,
    Release,
    ReleaseFile,
    Rollout,
    Stage,
    Task,
    TaskRun,
)
from reviews.models import Check, Finding, ReviewPolicy, RuleSetting

pytestmark = pytest.mark.django_db

APPS = ("releases", "reviews", "gitops")
SECRET = "correct-horse-battery-staple"


@pytest.fixture
def world(admin_user):
    """One row of every model of the three apps."""
    policy = ReviewPolicy.objects.get_or_create(name="recommended")[0]
    rule = RuleSetting.objects.create(policy=policy, rule_id="ddl.drop-table", severity="error")
    project = Project.objects.create(slug="shop", name="Shop", default_policy=policy)
    group = Group.objects.create(name="release-managers")
    env = Environment.objects.create(project=project, slug="prod", order=1, approver_group=group)
    db = Database(environment=env, name="shop-prod", url="postgresql://app@db.internal:5432/shop")
    db.set_password(SECRET)
    db.save()
    db_group = DatabaseGroup.objects.create(environment=env, name="all")
    release = Release.objects.create(project=project, uid="rel-20250115-01", commit_sha="a" * 40)
    release_file = ReleaseFile.objects.create(
        release=release,
        path="0001_init.sql",
        version="1",
        description="init",
        kind="ddl",
        checksum="v1:00",
        content="CREATE TABLE t (id int);",
    )
    rollout = Rollout.objects.create(release=release)
    stage = Stage.objects.create(rollout=rollout, environment=env, order=1)
    task = Task.objects.create(stage=stage, database=db)
    run = TaskRun.objects.create(task=task, attempt=1, log="ok")
    approval = Approval.objects.create(stage=stage, user=admin_user, decision="approve")
    applied = AppliedMigration.objects.create(
        database=db,
        version="1",
        description="init",
        kind="ddl",
        checksum="v1:00",
        status="applied",
        applied_at=timezone.now(),
    )
    audit = AuditEvent.objects.create(
        actor=admin_user,
        actor_label="admin",
        verb="approve",
        project=project,
        object_type="stage",
        object_id=str(stage.pk),
    )
    check = Check.objects.create(project=project, pull_request="7", head_sha="b" * 40)
    finding = Finding.objects.create(
        check_run=check,
        rule_id="ddl.drop-table",
        severity="error",
        message="Don't.",
        file="0001_init.sql",
        line=1,
        column=1,
        end_line=1,
    )
    token, _raw = ApiToken.issue(project, "ci")
    return [
        policy,
        rule,
        project,
        env,
        db,
        db_group,
        release,
        release_file,
        rollout,
        stage,
        task,
        run,
        approval,
        applied,
        audit,
        check,
        finding,
        token,
    ]


def _url(model, *parts) -> str:
    """_url(Database) is the changelist, _url(Database, 3, "change") a change page."""
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/" + "".join(f"{p}/" for p in parts)


def test_every_model_of_the_three_apps_is_registered():
    from django.apps import apps

    models = [m for name in APPS for m in apps.get_app_config(name).get_models()]
    assert models
    assert [m for m in models if m not in admin.site._registry] == []


def test_every_admin_page_renders(admin_client, world, request_):
    for obj in world:
        model = type(obj)
        model_admin = admin.site._registry[model]
        assert admin_client.get(_url(model)).status_code == 200, model
        assert admin_client.get(_url(model, obj.pk, "change")).status_code == 200, model
        assert admin_client.get(_url(model, obj.pk, "history")).status_code == 200, model
        can_add = model_admin.has_add_permission(request_)
        assert admin_client.get(_url(model, "add")).status_code == (200 if can_add else 403), model


@pytest.fixture
def request_(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    return request


def test_workflow_records_cannot_be_added_or_edited(request_):
    rf = request_
    for model in (AuditEvent, AppliedMigration, TaskRun, Release, ReleaseFile, Approval, Check, Finding):
        assert not admin.site._registry[model].has_add_permission(rf), model
        assert not admin.site._registry[model].has_change_permission(rf), model
    assert not admin.site._registry[AuditEvent].has_delete_permission(rf)


def test_status_fields_are_read_only(request_):
    rf = request_
    for model in (Rollout, Stage, Task):
        assert "status" in admin.site._registry[model].get_readonly_fields(rf), model
        assert "finished_at" in admin.site._registry[model].get_readonly_fields(rf), model


def test_the_database_pages_never_show_the_password(admin_client, world):
    db = Database.objects.get(name="shop-prod")
    assert db.password_encrypted and SECRET not in db.password_encrypted
    admin_client.post(_url(Database, db.pk, "change"), _form(db, labels='{"tier": "eu"}'))
    pages = [
        _url(Database),
        _url(Database, db.pk, "change"),
        _url(Database, db.pk, "history"),
        _url(Environment, db.environment_id, "change"),
    ]
    for page in pages:
        html = admin_client.get(page).content.decode()
        assert SECRET not in html, page
        assert db.password_encrypted not in html, page
        assert db.password_encrypted[:20] not in html, page


def _form(db: Database | None = None, **fields) -> dict:
    data = {"environment": "", "name": "", "url": "", "password": "", "password_env": "", "labels": "{}"}
    if db is not None:
        data.update(environment=db.environment_id, name=db.name, url=db.url, labels="{}")
    data.update(fields)
    return data


def test_it_stores_a_password_from_the_admin_encrypted(admin_client, world):
    env = Environment.objects.get(slug="prod")
    response = admin_client.post(
        _url(Database, "add"),
        _form(
            environment=env.pk,
            name="shop-replica",
            url="postgresql://app@replica:5432/shop",
            password="s3cr3t!",
        ),
    )
    assert response.status_code == 302
    db = Database.objects.get(name="shop-replica")
    assert db.engine == "postgresql"
    assert db.password_encrypted and "s3cr3t!" not in db.password_encrypted
    assert db.password() == "s3cr3t!"


def test_an_empty_password_keeps_the_stored_one(admin_client, world):
    db = Database.objects.get(name="shop-prod")
    response = admin_client.post(_url(Database, db.pk, "change"), _form(db, name="shop-prod-1"))
    assert response.status_code == 302
    db.refresh_from_db()
    assert db.name == "shop-prod-1"
    assert db.password() == SECRET


def test_it_clears_the_password(admin_client, world):
    db = Database.objects.get(name="shop-prod")
    response = admin_client.post(_url(Database, db.pk, "change"), _form(db, clear_password="on"))
    assert response.status_code == 302
    db.refresh_from_db()
    assert db.password_encrypted == ""
    assert db.password() is None


def test_it_refuses_a_url_with_a_password_and_does_not_echo_it(admin_client, world):
    env = Environment.objects.get(slug="prod")
    response = admin_client.post(
        _url(Database, "add"),
        _form(environment=env.pk, name="leaky", url="postgresql://app:hunter2@db:5432/shop"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Put the password in the password field" in html
    assert "hunter2" not in html
    assert "postgresql://app@db:5432/shop" in html
    assert not Database.objects.filter(name="leaky").exists()


def test_it_refuses_a_bad_url(admin_client, world):
    env = Environment.objects.get(slug="prod")
    response = admin_client.post(
        _url(Database, "add"), _form(environment=env.pk, name="bad", url="oracle://x/y")
    )
    assert response.status_code == 200
    assert "unsupported scheme" in response.content.decode()
    assert not Database.objects.filter(name="bad").exists()


def test_the_token_pages_never_show_the_hash(admin_client, world):
    token = ApiToken.objects.get(name="ci")
    for page in (_url(ApiToken), _url(ApiToken, token.pk, "change")):
        html = admin_client.get(page).content.decode()
        assert token.token_hash not in html
        assert token.prefix in html


def test_it_issues_a_token_and_shows_it_once(admin_client, world):
    project = Project.objects.get(slug="shop")
    response = admin_client.post(
        _url(ApiToken, "add"),
        {"project": project.pk, "name": "deploy", "scopes": ["read", "release"]},
    )
    token = ApiToken.objects.get(name="deploy")
    assert sorted(token.scopes) == ["read", "release"]
    # Shown on the page that answers the form: no redirect, nothing left for a later page to show.
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    raw = re.search(r'id="issued-token" value="([^"]+)"', html).group(1)
    assert raw.startswith(token.prefix)
    from gitops.models import hash_token

    assert token.token_hash == hash_token(raw)
    # Not in a cookie (Django keeps messages in a signed, readable one) nor in the session.
    assert all(raw not in morsel.value for morsel in response.cookies.values())
    assert raw not in str(dict(admin_client.session))
    for page in (_url(ApiToken, token.pk, "change"), _url(ApiToken)):
        assert raw not in admin_client.get(page).content.decode()
    # And it works.
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/projects/shop/releases").status_code == 200


def test_it_revokes_selected_tokens(admin_client, world):
    token = ApiToken.objects.get(name="ci")
    response = admin_client.post(
        _url(ApiToken), {"action": "revoke_tokens", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(verb="revoke", object_type="api_token", object_id=str(token.pk)).exists()


@pytest.mark.django_db
def test_a_password_in_the_url_is_refused_outside_forms_too():
    from django.core.exceptions import ValidationError

    from releases.models import Database, Environment, Project

    env = Environment.objects.create(project=Project.objects.create(slug="p", name="P"), slug="test")
    with pytest.raises(ValidationError, match="Put the password in the password field"):
        Database.objects.create(environment=env, name="db", url="postgresql://app:secret@db/app")
    assert not Database.objects.exists()
