"""POST /api/v1/review: the stateless review, request limits and the error format."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from gitops.models import ApiToken
from releases.models import Project
from reviews.models import ReviewPolicy, RuleSetting

pytestmark = pytest.mark.django_db

DROP = "DROP TABLE users;\n"


@pytest.fixture
def shop():
    return Project.objects.create(slug="shop", name="Shop")


@pytest.fixture
def ci(shop):
    """An API client carrying a token of `shop` with no scope at all: the review needs none."""
    _, raw = ApiToken.issue(shop, "ci", [])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def body(*files: dict, **extra) -> dict:
    return {"dialect": "postgres", "files": list(files), **extra}


def sql(path: str = "migrations/0001_drop.sql", content: str = DROP) -> dict:
    return {"path": path, "content": content}


def test_it_reviews_files_with_a_token(ci):
    response = ci.post("/api/v1/review", body(sql()), format="json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["schema"] == "sluice.check/v1"
    # Other rules (a lock timeout, …) may warn too: the catalogue grows.
    assert doc["summary"]["errors"] == 1
    assert (doc["summary"]["files"], doc["summary"]["blocking"], doc["summary"]["risk"]) == (1, True, "high")
    [finding] = [f for f in doc["findings"] if f["severity"] == "error"]
    assert finding["rule"] == "table.disallow-drop"
    assert (finding["file"], finding["line"], finding["column"]) == ("migrations/0001_drop.sql", 1, 1)
    assert finding["rule_url"] == "http://testserver/rules/table.disallow-drop/"
    assert all(f["rule_url"].endswith(f"/rules/{f['rule']}/") for f in doc["findings"])
    assert doc["errors"] == []


def test_it_says_what_a_release_would_refuse_as_a_check_does(ci):
    files = [sql("migrations/0001_users.sql", "SELECT 1;\n"), sql("migrations/add_orders.sql", "SELECT 1;\n"),
             sql("migrations/1_again.sql", "SELECT 1;\n"), sql("migrations/0002_empty.sql", "")]
    doc = ci.post("/api/v1/review", body(*files), format="json").json()
    assert {e["file"]: e["message"] for e in doc["errors"]} == {
        "migrations/add_orders.sql": "bad migration file name: expected <version>_<description>.sql, "
                                     "e.g. 202501150900_add_user_table.sql or V1.2__seed_dml.sql",
        "migrations/1_again.sql": "duplicate version 1: migrations/0001_users.sql has the same version",
    }  # (the empty file is the error finding system.empty-file: said once)
    assert [f["rule"] for f in doc["findings"] if f["severity"] == "error"] == ["system.empty-file"]
    assert (doc["summary"]["errors"], doc["summary"]["blocking"]) == (3, True)
    checked = ci.post("/api/v1/review", body(*files[:3], fail_on="never"), format="json").json()
    assert (len(checked["errors"]), checked["summary"]["errors"], checked["summary"]["blocking"]) == (2, 2, False)


def test_it_reviews_files_for_a_signed_in_user(db):
    client = APIClient()
    client.force_login(User.objects.create_user("dave"))
    response = client.post("/api/v1/review", body(sql()), format="json")
    assert response.status_code == 200


def test_it_rejects_a_request_without_credentials(db):
    response = APIClient().post("/api/v1/review", body(sql()), format="json")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_it_rejects_a_revoked_token(shop):
    issued, raw = ApiToken.issue(shop, "ci")
    issued.revoke()
    response = APIClient().post(
        "/api/v1/review", body(sql()), format="json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 401


def test_fail_on_never_does_not_block(ci):
    response = ci.post("/api/v1/review", body(sql(), fail_on="never"), format="json")
    assert response.json()["summary"]["blocking"] is False


def test_it_uses_a_template_policy(ci):
    response = ci.post("/api/v1/review", body(sql(), policy="strict"), format="json")
    assert response.status_code == 200


def test_it_uses_a_policy_composed_in_the_admin(ci):
    lenient = ReviewPolicy.objects.create(name="lenient")
    RuleSetting.objects.create(policy=lenient, rule_id="table.disallow-drop", severity="warning")
    response = ci.post("/api/v1/review", body(sql(), policy="lenient"), format="json")
    assert response.status_code == 200
    [drop] = [f for f in response.json()["findings"] if f["rule"] == "table.disallow-drop"]
    assert drop["severity"] == "warning"
    assert response.json()["summary"]["blocking"] is False


def test_it_rejects_an_unknown_policy(ci):
    response = ci.post("/api/v1/review", body(sql(), policy="nope"), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "unknown policy 'nope'" in error["message"]
    assert error["details"][0]["field"] == "policy"


def test_it_rejects_an_unknown_dialect(ci):
    response = ci.post("/api/v1/review", {**body(sql()), "dialect": "oracle"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "dialect"


def test_it_locates_bad_json(ci):
    response = ci.generic(
        "POST", "/api/v1/review", '{"dialect": "postgres",\n  "files": [}', content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "line 2 column 13" in error["message"]
    assert error["details"] == [{"line": 2, "column": 13}]


def test_deeply_nested_json_is_a_parse_error(ci):
    payload = '{"dialect": "postgres", "x": ' + "[" * 3000 + "]" * 3000 + "}"
    response = ci.generic("POST", "/api/v1/review", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "parse_error",
        "message": "the request body is nested too deeply",
        "details": [],
    }


def test_a_charset_that_is_not_a_text_encoding_is_refused_in_json(ci):
    payload = json.dumps(body(sql()))
    response = ci.generic("POST", "/api/v1/review", payload, content_type="application/json; charset=base64")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "send the JSON as UTF-8" in response.json()["error"]["message"]


def test_it_accepts_json_only(ci):
    response = ci.post("/api/v1/review", {"dialect": "postgres"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "path",
    [
        "../x.sql",
        "migrations/../../x.sql",
        "/abs.sql",
        "a\\b.sql",
        "C:/x.sql",
        "a\x00b.sql",
        "migrations/x.txt",
        "",
        "./migrations/0001_x.sql",
        "migrations/./0001_x.sql",
        "migrations//0001_x.sql",
        " migrations/0001_x.sql",
        "migrations/0001_x.sql\n",
        "migrations/0001_x\x7f.sql",
        "migrations/0001_x\u202egpj.sql",  # a right-to-left override
        "migrations/0001\u200b_x.sql",  # a zero-width space
    ],
)
def test_it_rejects_a_bad_path_naming_it(ci, path):
    response = ci.post("/api/v1/review", body(sql(path=path)), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"][0]["field"] == "files[0].path"
    if path:
        assert repr(path) in error["message"]
        assert error["details"][0]["file"] == path


@pytest.mark.parametrize(
    "path", ["migrations/0001_add notes.sql", "migrations/0001_café.sql", "db/v1/0001_x.sql"]
)
def test_it_accepts_an_ordinary_path(ci, path):
    response = ci.post("/api/v1/review", body(sql(path=path)), format="json")
    assert response.status_code == 200
    assert {f["file"] for f in response.json()["findings"]} == {path}


def test_it_says_which_file_a_problem_is_in(ci):
    files = [sql(), {"path": "migrations/0002_x.sql", "content": 42}]
    response = ci.post("/api/v1/review", body(*files), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"file": "migrations/0002_x.sql", "field": "files[1].content", "message": "Not a valid string."}
    ]


def test_it_rejects_the_same_path_twice(ci):
    response = ci.post("/api/v1/review", body(sql(), sql()), format="json")
    assert response.status_code == 400
    assert "given twice" in response.json()["error"]["message"]
    [detail] = response.json()["error"]["details"]
    assert (detail["file"], detail["field"]) == ("migrations/0001_drop.sql", "files[1].path")


@pytest.mark.parametrize("spelling", ["./migrations/0001_drop.sql", "migrations//0001_drop.sql"])
def test_another_spelling_of_the_same_path_is_refused(ci, spelling):
    response = ci.post("/api/v1/review", body(sql(), sql(path=spelling)), format="json")
    assert response.status_code == 400
    [detail] = response.json()["error"]["details"]
    assert (detail["file"], detail["field"]) == (spelling, "files[1].path")


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"failOn": "never"}, "failOn"),
        ({"vcs": {"pr": 42}}, "vcs"),
        ({"files": [{**sql(), "contents": "SELECT 1;"}]}, "files[0].contents"),
    ],
)
def test_it_refuses_keys_it_does_not_take(ci, extra, field):
    response = ci.post("/api/v1/review", {**body(sql()), **extra}, format="json")
    assert response.status_code == 400
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == field
    assert detail["message"].startswith("unknown key: expected ")


@pytest.mark.parametrize("value", [["postgres"], 5, {"name": "postgres"}])
def test_a_dialect_that_is_not_a_string_is_named_so(ci, value):
    response = ci.post("/api/v1/review", {**body(sql()), "dialect": value}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "dialect: must be a string: one of postgres, mysql, sqlite"


@pytest.mark.parametrize("content", [42, None, ["DROP TABLE x;"]])
def test_it_wants_content_as_a_string(ci, content):
    response = ci.post("/api/v1/review", body({"path": "m/0001_x.sql", "content": content}), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "files[0].content"


def test_it_wants_exactly_one_of_content_and_base64(ci):
    response = ci.post("/api/v1/review", body({"path": "m/0001_x.sql"}), format="json")
    assert response.status_code == 400
    assert "exactly one of content and content_base64" in response.json()["error"]["message"]


def test_it_reviews_raw_bytes_sent_as_base64(ci):
    raw = b"CREATE TABLE t (name text DEFAULT '\xe9');\n"
    item = {"path": "m/0001_latin1.sql", "content_base64": base64.b64encode(raw).decode()}
    response = ci.post("/api/v1/review", body(item), format="json")
    assert response.status_code == 200
    [finding] = [f for f in response.json()["findings"] if f["rule"] == "system.encoding-error"]
    assert "offset 35" in finding["message"]


def test_it_rejects_bad_base64(ci):
    response = ci.post(
        "/api/v1/review", body({"path": "m/0001_x.sql", "content_base64": "%%%"}), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "files[0].content_base64"


def test_it_refuses_a_body_over_the_limit(ci, settings):
    settings.SLUICE_MAX_REQUEST_BYTES = 1000
    response = ci.post("/api/v1/review", body(sql(content="SELECT 1;\n" * 200)), format="json")
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert "1000 bytes" in error["message"]


def test_the_default_limit_is_20_mb(ci, settings):
    assert settings.SLUICE_MAX_REQUEST_BYTES == 20 * 1024 * 1024 == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    payload = json.dumps(body(sql(content="-- x\n" * (4 * 1024 * 1024 + 1))))
    response = ci.generic("POST", "/api/v1/review", payload, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.slow
def test_it_reviews_a_5_mb_file(ci):
    # A seed dump: one multi-row INSERT (≈7 s of review; 5 MB of one-line statements takes ≈40 s).
    rows = ",\n".join(f"({i}, 'a fairly ordinary row of seed data')" for i in range(115_000))
    content = f"INSERT INTO audit_log (id, note) VALUES\n{rows};\n"
    assert len(content) > 5 * 1024 * 1024
    response = ci.post(
        "/api/v1/review", body(sql(path="m/0002_seed_dml.sql", content=content)), format="json"
    )
    assert response.status_code == 200
    doc = response.json()
    assert doc["summary"]["files"] == 1
    assert not [f for f in doc["findings"] if f["rule"] in ("system.syntax-error", "system.encoding-error")]


def test_the_openapi_schema_builds(admin_client):
    response = admin_client.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/review", "/api/v1/projects/{project}/checks", "/api/v1/checks/{id}"):
        assert path in text
    assert "bearerAuth" in text
