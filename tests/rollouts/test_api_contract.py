"""The REST API against its contract (design §5) and its published OpenAPI schema (/api/schema/):
every response a client gets on real data validates against the operation's documented response,
and every error is JSON in the design's error shape."""

from __future__ import annotations

import re

import jsonschema
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from releases.models import Database
from tests.rollouts import test_api
from tests.rollouts.test_api import VCS, approve, release, released, session, stages, token_client

pytestmark = pytest.mark.django_db(transaction=True)

world = test_api.world  # the fixture: shop, its test → staging → prod, the personas and a CI token

CHECK_VCS = {key: VCS[key] for key in ("provider", "repo", "pr", "url")}


# -- the schema as JSON Schema ------------------------------------------------------------------


def _json_schema(node):
    """OpenAPI 3.0 → JSON Schema: `nullable` becomes a null alternative, and an object lists
    every field it may have (an undocumented field is a lie of the schema too)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if "$ref" in node:
        node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture
def openapi(world):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER  # what it can check: email among others


def validate(openapi: dict, response, method: str = "") -> None:
    """The response against the documented response of its operation and status."""
    request = response.wsgi_request
    method = method or request.method.lower()
    path = request.path
    for template, operations in openapi["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in operations:
            operation = operations[method]
            break
    else:
        raise AssertionError(f"{method.upper()} {path} is not in the schema")
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method.upper()} {path} answered {response.status_code}: not documented"
    media = documented.get("content", {}).get("application/json")
    assert media, f"{method.upper()} {path} {response.status_code}: no JSON body documented"
    schema = {**_json_schema(media["schema"]), "$defs": _json_schema(openapi["components"]["schemas"])}
    errors = sorted(
        jsonschema.Draft202012Validator(schema, format_checker=FORMATS).iter_errors(response.json()), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(
        f"{method.upper()} {path}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]
    )


def error(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    assert isinstance(body["error"]["details"], list)
    return body["error"]


# -- responses against the schema --------------------------------------------------------------


def test_release_responses_match_the_schema(world, openapi):
    created = release(world.ci)
    assert created.status_code == 201
    validate(openapi, created)
    uid = created.json()["uid"]
    again = release(world.ci)
    assert again.status_code == 200
    validate(openapi, again)
    validate(openapi, world.ci.get("/api/v1/projects/shop/releases"))
    validate(openapi, world.ci.get(f"/api/v1/releases/{uid}"))
    bob = session(world.users["bob"])
    validate(openapi, approve(bob, uid, "staging", comment="ok"))
    validate(openapi, bob.post(f"/api/v1/releases/{uid}/stages/prod/reject", {"comment": "no"}, format="json"))
    sam = session(world.users["sam"])
    validate(openapi, sam.post(f"/api/v1/releases/{uid}/cancel", {"reason": "stop"}, format="json"))
    validate(openapi, sam.post(f"/api/v1/releases/{uid}/rollouts", format="json"))
    for env in ("staging", "prod"):
        skipped = sam.post(f"/api/v1/releases/{uid}/stages/{env}/skip", {"reason": "r"}, format="json")
        assert skipped.status_code == 200, skipped.json()
        validate(openapi, skipped)
    validate(openapi, world.ci.get(f"/api/v1/releases/{uid}"))
    validate(openapi, world.ci.get("/api/v1/projects/shop/releases?limit=1&offset=1"))
    bare = world.ci.post(
        "/api/v1/projects/shop/releases",
        {"commit": "b" * 40, "files": [{"path": "migrations/202601010000_x.sql", "content": "SELECT 1;\n"}]},
        format="json",
    )
    assert bare.status_code == 201, bare.json()
    validate(openapi, bare)


def test_task_and_history_responses_match_the_schema(world, openapi):
    good = world.databases["test"].url
    Database.objects.filter(pk=world.databases["test"].pk).update(
        url=f"sqlite:///{world.tmp}/missing/dir/test.db"
    )
    doc = released(world)
    [task] = stages(doc)["test"]["tasks"]
    validate(openapi, world.ci.get(f"/api/v1/tasks/{task['id']}"))
    Database.objects.filter(pk=world.databases["test"].pk).update(url=good)
    sam = session(world.users["sam"])
    retried = sam.post(f"/api/v1/tasks/{task['id']}/retry", format="json")
    assert retried.status_code == 200
    validate(openapi, retried)
    validate(openapi, world.ci.get(f"/api/v1/tasks/{task['id']}"))
    validate(openapi, world.ci.get(f"/api/v1/databases/{world.databases['test'].pk}/history"))
    validate(openapi, world.ci.get(f"/api/v1/databases/{world.databases['prod'].pk}/history"))


def test_a_skipped_task_matches_the_schema(world, openapi):
    Database.objects.filter(pk=world.databases["test"].pk).update(
        url=f"sqlite:///{world.tmp}/missing/dir/test.db"
    )
    [task] = stages(released(world))["test"]["tasks"]
    skipped = session(world.users["sam"]).post(f"/api/v1/tasks/{task['id']}/skip", {"reason": "r"}, format="json")
    assert skipped.status_code == 200
    validate(openapi, skipped)


def test_check_and_review_responses_match_the_schema(world, openapi):
    files = [
        {"path": "migrations/0002_drop_users.sql", "content": "DROP TABLE users;\n"},
        {"path": "migrations/0003_bad.sql", "content": "CREATE TABLE (;\n"},
        {"path": "migrations/seed.sql", "content": "SELECT 1;\n"},
    ]
    check = world.ci.post("/api/v1/projects/shop/checks", {"files": files, "vcs": CHECK_VCS}, format="json")
    assert check.status_code == 201, check.json()
    assert check.json()["findings"] and check.json()["errors"]
    validate(openapi, check)
    validate(openapi, world.ci.get(f"/api/v1/checks/{check.json()['id']}"))
    bare = world.ci.post("/api/v1/projects/shop/checks", {"files": files[:1]}, format="json")
    assert bare.status_code == 201, bare.json()
    validate(openapi, bare)
    review = world.ci.post("/api/v1/review", {"dialect": "postgres", "files": files}, format="json")
    assert review.status_code == 200
    validate(openapi, review)


def test_error_responses_match_the_schema(world, openapi, settings):
    uid = released(world)["uid"]
    sam = session(world.users["sam"])
    responses = [
        APIClient().get(f"/api/v1/releases/{uid}"),
        APIClient().post("/api/v1/review", {}, format="json"),
        approve(session(world.users["mallory"]), uid, "staging"),
        world.ci.get("/api/v1/releases/rel-00000000-01"),
        world.ci.get("/api/v1/projects/nope/releases"),
        world.ci.get("/api/v1/checks/999999"),
        world.ci.get("/api/v1/tasks/999999"),
        world.ci.get("/api/v1/databases/999999/history"),
        release(world.ci, files=[]),
        world.ci.post("/api/v1/review", "{", content_type="application/json"),
        world.ci.post("/api/v1/projects/shop/checks", {"files": [{"path": "../x.sql", "content": ""}]}, format="json"),
        sam.post(f"/api/v1/releases/{uid}/rollouts", format="json"),
        sam.post(f"/api/v1/releases/{uid}/stages/prod/skip", {"reason": "r"}, format="json"),
        world.ci.post("/api/v1/review", "{}", content_type="text/plain"),
    ]
    settings.SLUICE_MAX_REQUEST_BYTES = 10
    responses.append(release(world.ci))
    assert sorted({r.status_code for r in responses}) == [400, 401, 403, 404, 409, 413, 415]
    for response in responses:
        error(response)
        validate(openapi, response)


def test_the_schema_marks_every_response_field_as_required(openapi):
    """Every serializer writes every field it has: a field the schema calls optional is one a
    generated client must test for on every response, for nothing."""
    schemas = openapi["components"]["schemas"]
    seen: set[str] = set()
    optional: list[str] = []

    def walk(node, where: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref", "").removeprefix("#/components/schemas/")
        if ref:
            if ref not in seen:
                seen.add(ref)
                walk(schemas[ref], ref)
            return
        if "properties" in node:
            optional.extend(f"{where}.{name}" for name in node["properties"] if name not in node.get("required", []))
        for value in node.values():
            walk(value, where)

    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code.startswith("2"):
                    walk(response.get("content", {}), f"{method.upper()} {path} {code}")
    assert not optional, "documented as optional, always sent: " + ", ".join(sorted(set(optional)))


# -- errors --------------------------------------------------------------------------------------

POSTS_WITH_FILES = ["/api/v1/projects/shop/releases", "/api/v1/projects/shop/checks", "/api/v1/review"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/"),
        ("get", "/api/v1"),
        ("get", "/api/v1/nothing"),
        ("post", "/api/v1/nothing/here"),
        ("get", "/api/v1/review/"),
        ("get", "/api/v1/releases/rel-00000000-01"),
        ("get", "/api/v1/releases/rel-00000000-01/"),
        ("post", "/api/v1/releases/rel-00000000-01/stages/prod/approve"),
        ("get", "/api/v1/projects/nope/releases"),
        ("post", "/api/v1/projects/nope/checks"),
        ("get", "/api/v1/checks/999999"),
        ("get", "/api/v1/checks/abc"),
        ("get", "/api/v1/tasks/999999"),
        ("get", "/api/v1/databases/999999/history"),
    ],
)
def test_an_unknown_path_or_object_is_a_json_404(world, method, path):
    response = getattr(session(world.users["sam"]), method)(path, {}, format="json")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/review"),
        ("put", "/api/v1/review"),
        ("get", "/api/v1/projects/shop/checks"),
        ("delete", "/api/v1/projects/shop/releases"),
        ("post", "/api/v1/checks/1"),
        ("patch", "/api/v1/releases/{uid}"),
        ("get", "/api/v1/releases/{uid}/cancel"),
        ("get", "/api/v1/releases/{uid}/stages/prod/approve"),
        ("post", "/api/v1/databases/{db}/history"),
    ],
)
def test_a_wrong_method_is_a_json_405(world, method, path):
    uid = released(world)["uid"]
    path = path.format(uid=uid, db=world.databases["test"].pk)
    response = getattr(session(world.users["sam"]), method)(path, {}, format="json")
    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize("path", [*POSTS_WITH_FILES, "/api/v1/releases/{uid}/stages/staging/approve"])
@pytest.mark.parametrize(
    "content_type, body",
    [("text/plain", "{}"), ("application/x-www-form-urlencoded", "files=x"), ("multipart/form-data; boundary=b", "--b--")],
)
def test_a_body_that_is_not_json_is_a_json_415(world, path, content_type, body):
    path = path.format(uid=released(world)["uid"])
    response = world.ci.post(path, body, content_type=content_type)
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", POSTS_WITH_FILES)
def test_an_oversized_body_is_a_json_413_on_every_post_that_takes_files(world, settings, path):
    settings.SLUICE_MAX_REQUEST_BYTES = 1000
    body = {"commit": "b" * 40, "dialect": "sqlite", "files": [{"path": "migrations/1_a.sql", "content": "-- x\n" * 400}]}
    response = world.ci.post(path, body, format="json")
    assert response.status_code == 413
    assert error(response)["code"] == "request_too_large"


@pytest.mark.parametrize("path", [*POSTS_WITH_FILES, "/api/v1/releases/{uid}/stages/staging/approve"])
def test_bad_json_is_a_400_located_by_line_and_column(world, path):
    path = path.format(uid=released(world)["uid"])
    response = world.ci.post(path, '{\n  "files": [,]\n}', content_type="application/json")
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "parse_error"
    assert "line 2 column 13" in body["message"] and body["details"] == [{"line": 2, "column": 13}]


def test_missing_or_bad_credentials_are_a_json_401(world):
    for client in (APIClient(), APIClient(HTTP_AUTHORIZATION="Bearer nope")):
        for path in ("/api/v1/projects/shop/releases", "/api/v1/checks/1"):
            response = client.get(path)
            assert response.status_code == 401
            assert error(response)["code"] in ("not_authenticated", "authentication_failed")


def test_a_forbidden_action_is_a_json_403(world):
    uid = released(world)["uid"]
    response = approve(session(world.users["mallory"]), uid, "staging")
    assert response.status_code == 403
    error(response)
    reader, _ = token_client(world.project, ["read"], name="reader")
    response = release(reader)
    assert response.status_code == 403
    error(response)
    assert User.objects.filter(username="mallory").exists()


def test_a_server_error_is_json_and_still_logged(world, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("releases.services.create_release", broken)
    monkeypatch.setattr("reviews.api.review_files", broken)
    world.ci.raise_request_exception = False
    for response in (
        release(world.ci),
        world.ci.post("/api/v1/review", {"dialect": "sqlite", "files": [{"path": "a.sql", "content": "SELECT 1;"}]}, format="json"),
    ):
        assert response.status_code == 500
        body = error(response)
        assert body["code"] == "server_error" and "a bug" not in body["message"]
    logged = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert len(logged) == 2 and all(r.exc_info and r.exc_info[0] is RuntimeError for r in logged)
