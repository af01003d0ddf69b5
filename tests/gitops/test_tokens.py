"""`manage.py token …` and the Bearer authentication it feeds."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from gitops.auth import TokenPrincipal
from gitops.models import TOKEN_NAME_MAX_LENGTH, ApiToken, hash_token
from releases.models import AuditEvent, Project, Release
from reviews.models import Check
from tests.helpers import manage

pytestmark = pytest.mark.django_db

REVIEW = {"dialect": "postgres", "files": [{"path": "migrations/0001_init.sql", "content": "SELECT 1;"}]}


@pytest.fixture
def shop():
    return Project.objects.create(slug="shop", name="Shop")


@pytest.fixture
def api():
    return APIClient()


def token(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_creates_a_token_and_prints_it_once(shop):
    out, err = token(
        "create", "--project", "shop", "--name", "github-ci", "--scope", "check", "--scope", "read"
    )
    raw = out.strip()
    assert raw.startswith("slc_")
    assert "won't be shown again" in err
    stored = ApiToken.objects.get(project=shop, name="github-ci")
    assert stored.token_hash == hash_token(raw)
    assert stored.scopes == ["check", "read"]
    assert stored.prefix == raw[:10]
    assert raw not in stored.token_hash
    assert AuditEvent.objects.filter(
        verb="create", object_type="api_token", object_id=str(stored.pk)
    ).exists()


def test_it_defaults_to_every_scope(shop):
    token("create", "--project", "shop", "--name", "ci")
    assert ApiToken.objects.get(name="ci").scopes == ["check", "release", "read"]


def test_it_exits_2_for_an_unknown_project(db):
    with pytest.raises(CommandError, match="unknown project 'nope'") as caught:
        token("create", "--project", "nope", "--name", "ci")
    assert caught.value.returncode == 2
    assert not ApiToken.objects.exists()


def test_it_exits_2_for_a_duplicate_name(shop):
    token("create", "--project", "shop", "--name", "ci")
    with pytest.raises(CommandError, match="already has a token named 'ci'") as caught:
        token("create", "--project", "shop", "--name", "ci")
    assert caught.value.returncode == 2
    assert ApiToken.objects.count() == 1


def test_it_exits_2_for_a_name_too_long_to_record(shop):
    with pytest.raises(CommandError, match="--name: at most 100 characters \\(this one has 101\\)") as caught:
        token("create", "--project", "shop", "--name", "n" * 101)
    assert caught.value.returncode == 2
    assert not ApiToken.objects.exists()
    token("create", "--project", "shop", "--name", "n" * 100)
    assert ApiToken.objects.get().name == "n" * 100


def test_the_longest_token_name_fits_where_checks_and_releases_record_it(db):
    # `token:<slug>/<name>` is stored in created_by: a longer one fails every write on PostgreSQL.
    slug_length = Project._meta.get_field("slug").max_length
    project = Project.objects.create(slug="p" * slug_length, name="P")
    issued, _ = ApiToken.issue(project, "n" * TOKEN_NAME_MAX_LENGTH)
    recorded = len(TokenPrincipal(issued).get_username())
    assert recorded <= Check._meta.get_field("created_by").max_length
    assert recorded <= Release._meta.get_field("created_by").max_length
    with pytest.raises(ValidationError):
        ApiToken.issue(project, "n" * (TOKEN_NAME_MAX_LENGTH + 1))
    with pytest.raises(ValidationError) as caught:
        ApiToken(project=project, name="n" * 101, token_hash="x").full_clean()
    assert "name" in caught.value.message_dict


def test_it_rejects_an_unknown_scope(shop):
    with pytest.raises(CommandError):
        token("create", "--project", "shop", "--name", "ci", "--scope", "admin")
    assert not ApiToken.objects.exists()


def test_it_revokes_a_token(shop):
    issued, _ = ApiToken.issue(shop, "ci")
    out, _ = token("revoke", "--project", "shop", "--name", "ci")
    assert "Revoked" in out
    issued.refresh_from_db()
    assert issued.revoked_at is not None
    assert AuditEvent.objects.filter(verb="revoke", object_id=str(issued.pk)).exists()


def test_it_exits_2_when_revoking_an_unknown_token(shop):
    with pytest.raises(CommandError) as caught:
        token("revoke", "--project", "shop", "--name", "ghost")
    assert caught.value.returncode == 2


def test_it_lists_tokens_without_hashes_or_values(shop):
    first, raw = ApiToken.issue(shop, "github-ci", ["check"])
    second, _ = ApiToken.issue(shop, "old", ["read"])
    second.revoke()
    out, _ = token("list", "--project", "shop")
    assert "github-ci" in out and "old" in out
    assert first.prefix in out
    assert "revoked" in out and "active" in out
    assert raw not in out
    assert first.token_hash not in out and second.token_hash not in out


def test_a_valid_bearer_token_authenticates(shop, api):
    issued, raw = ApiToken.issue(shop, "ci", ["read"])
    response = api.post("/api/v1/review", REVIEW, format="json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    issued.refresh_from_db()
    assert issued.last_used_at is not None


def test_a_revoked_token_gets_401(shop, api):
    issued, raw = ApiToken.issue(shop, "ci")
    issued.revoke()
    response = api.post("/api/v1/review", REVIEW, format="json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response.json()["error"]["message"] == "token revoked"


def test_an_unknown_token_gets_401(db, api):
    response = api.post("/api/v1/review", REVIEW, format="json", HTTP_AUTHORIZATION="Bearer slc_nope")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid token"


def test_a_malformed_header_gets_401(db, api):
    response = api.post("/api/v1/review", REVIEW, format="json", HTTP_AUTHORIZATION="Bearer two words")
    assert response.status_code == 401


def test_no_credentials_get_401_with_a_challenge(db, api):
    response = api.post("/api/v1/review", REVIEW, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_records_last_use_at_most_once_a_minute(shop, api):
    issued, raw = ApiToken.issue(shop, "ci")
    recent = timezone.now() - timedelta(seconds=20)
    ApiToken.objects.filter(pk=issued.pk).update(last_used_at=recent)
    api.post("/api/v1/review", REVIEW, format="json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    issued.refresh_from_db()
    assert issued.last_used_at == recent

    stale = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.filter(pk=issued.pk).update(last_used_at=stale)
    api.post("/api/v1/review", REVIEW, format="json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    issued.refresh_from_db()
    assert issued.last_used_at > stale


def test_an_unknown_api_path_answers_in_json(client):
    response = client.get("/api/v1/releases/x/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "/api/v1/releases/x/nope" in response.json()["error"]["message"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_writing_to_an_unknown_api_path_answers_in_json_too(shop, method):
    # Not the HTML "CSRF verification failed" page: a trailing slash is an unknown endpoint.
    _, raw = ApiToken.issue(shop, "ci")
    browser = Client(enforce_csrf_checks=True)
    response = getattr(browser, method)(
        "/api/v1/review/", REVIEW, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_the_api_root_without_a_slash_answers_in_json(client, method):
    response = getattr(client, method)("/api/v1")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("verb", [["create", "--name", "ci"], ["revoke", "--name", "ci"], ["list"]])
def test_a_control_database_that_fails_exits_3_with_one_line(tmp_path, verb):
    empty = tmp_path / "control.sqlite3"  # a database without Sluice's tables
    run = manage("token", verb[0], "--project", "shop", *verb[1:], env={"DATABASE_URL": f"sqlite:///{empty}"})
    assert run.returncode == 3, run.stderr
    assert run.stderr.startswith("CommandError: the control database failed: ") and run.stderr.count("\n") == 1
    assert not run.stdout
