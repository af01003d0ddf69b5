"""POST /api/v1/projects/{project}/checks and GET /api/v1/checks/{id}."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from gitops.models import ApiToken
from releases.models import Database, Environment, Project
from reviews import api as reviews_api
from reviews.models import Check, Finding, ReviewPolicy, RuleSetting
from reviews.policy_io import ensure_templates

pytestmark = pytest.mark.django_db

DROP = "DROP TABLE users;\n"
VCS = {
    "provider": "github",
    "repo": "acme/shop",
    "pr": 42,
    "head_sha": "a" * 40,
    "base_sha": "b" * 40,
    "url": "https://github.com/acme/shop/pull/42",
}


@pytest.fixture
def shop(tmp_path):
    """test, staging and prod, each with one SQLite database; the shipped policies stored (as
    data migration 0002 leaves them; a transactional test elsewhere may have flushed them)."""
    ensure_templates()
    project = Project.objects.create(slug="shop", name="Shop")
    for order, slug in enumerate(["test", "staging", "prod"]):
        env = Environment.objects.create(project=project, slug=slug, order=order)
        Database.objects.create(
            environment=env, name=f"shop-{slug}", url=f"sqlite:///{tmp_path / slug}.sqlite3"
        )
    return project


@pytest.fixture
def other():
    return Project.objects.create(slug="other", name="Other")


def client_for(project: Project, scopes: list[str], name: str = "ci") -> APIClient:
    _, raw = ApiToken.issue(project, name, scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def ci(shop):
    return client_for(shop, ["check", "read"])


def payload(content: str = DROP, **extra) -> dict:
    return {"files": [{"path": "migrations/0002_drop_users.sql", "content": content}], "vcs": VCS, **extra}


def drop_findings(check: Check) -> list[Finding]:
    return list(check.findings.filter(rule_id="table.disallow-drop").order_by("severity"))


def test_it_stores_a_check_with_its_findings(ci, shop):
    response = ci.post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 201
    doc = response.json()
    check = Check.objects.get(pk=doc["id"])
    check.refresh_from_db()
    assert check.project == shop
    assert (check.provider, check.repo, check.pull_request) == ("github", "acme/shop", "42")
    assert (check.head_sha, check.base_sha) == ("a" * 40, "b" * 40)
    assert check.url == VCS["url"]
    assert check.blocking is True
    assert check.risk == "high"
    assert check.created_by == "token:shop/ci"
    assert check.summary == doc["summary"]
    [drop] = drop_findings(check)
    assert (drop.severity, drop.file, drop.line, drop.column) == (
        "error",
        "migrations/0002_drop_users.sql",
        1,
        1,
    )
    assert drop.environments == ["test", "staging", "prod"]
    assert drop.policy.name == "recommended"  # no policy attached: the stored recommended
    assert check.findings.count() == len(doc["findings"])
    assert doc["files"] == check.files == [{"file": "migrations/0002_drop_users.sql", "risk": "high", "statements": 1}]

    assert doc["schema"] == "sluice.check/v1"
    assert doc["project"] == "shop"
    assert doc["url"] == f"http://testserver/api/v1/checks/{check.pk}"
    assert doc["vcs"] == {**VCS, "pr": "42"}
    assert {
        "rule": "table.disallow-drop",
        "severity": "error",
        "environments": ["test", "staging", "prod"],
        "rule_url": "http://testserver/rules/table.disallow-drop/",  # what it flags, why, the alternative
    }.items() <= next(f for f in doc["findings"] if f["rule"] == "table.disallow-drop").items()
    assert ci.get("/rules/table.disallow-drop/").status_code == 200


def test_the_admin_links_each_stored_finding_to_its_rule_page(ci, admin_client):
    check = Check.objects.get(pk=ci.post("/api/v1/projects/shop/checks", payload(), format="json").json()["id"])
    [drop] = drop_findings(check)
    listing = admin_client.get("/admin/reviews/finding/").content.decode()
    assert '<a href="/rules/table.disallow-drop/">table.disallow-drop</a>' in listing
    detail = admin_client.get(f"/admin/reviews/finding/{drop.pk}/change/").content.decode()
    assert '<a href="/rules/table.disallow-drop/">table.disallow-drop</a>' in detail


def test_files_a_release_would_refuse_are_the_checks_errors_and_block_it(ci, shop):
    # Found on the pull request, not when the merge builds the release (releases.loader's rules).
    files = [
        {"path": "migrations/0002_add_note.sql", "content": "-- sluice:transaction maybe\nSELECT 1;\n"},
        {"path": "migrations/seed.sql", "content": "SELECT 1;\n"},
        {"path": "migrations/0003_a.sql", "content": "SELECT 1;\n"},
        {"path": "migrations/0003_b.sql", "content": "SELECT 2;\n"},
    ]
    response = ci.post("/api/v1/projects/shop/checks", {"files": files, "vcs": VCS}, format="json")
    assert response.status_code == 201
    doc = response.json()
    by_file = {e["file"]: e for e in doc["errors"]}
    assert set(by_file) == {"migrations/0002_add_note.sql", "migrations/seed.sql", "migrations/0003_b.sql"}
    assert by_file["migrations/0002_add_note.sql"]["line"] == 1
    assert "sluice:transaction takes 'on' or 'off'" in by_file["migrations/0002_add_note.sql"]["message"]
    assert "duplicate version 0003" in by_file["migrations/0003_b.sql"]["message"]
    # No finding is an error: the summary's errors are the three files a release would refuse.
    assert doc["summary"]["blocking"] is True and doc["summary"]["errors"] == 3
    assert Check.objects.get(pk=doc["id"]).errors == doc["errors"]
    relaxed = ci.post("/api/v1/projects/shop/checks", {"files": files, "vcs": VCS, "fail_on": "never"}, format="json")
    assert relaxed.json()["summary"]["blocking"] is False and relaxed.json()["errors"] == doc["errors"]
    fine = ci.post("/api/v1/projects/shop/checks", payload("SELECT 1;\n"), format="json").json()
    assert fine["errors"] == [] and fine["summary"]["blocking"] is False


def test_the_stateless_review_lists_the_same_errors_entry_for_entry(ci):
    # One entry per refusal, its line apart from its message (when it has one): as a check stores them.
    files = [{"path": "migrations/0002_x.sql", "content": "-- sluice transaction off\nSELECT 1;\n"},
             {"path": "migrations/seed.sql", "content": "SELECT 1;\n"}]
    checked = ci.post("/api/v1/projects/shop/checks", {"files": files, "vcs": VCS}, format="json").json()
    reviewed = ci.post("/api/v1/review", {"dialect": "sqlite", "files": files}, format="json").json()
    assert reviewed["errors"] == checked["errors"]
    assert [(e["file"], e.get("line")) for e in checked["errors"]] == [("migrations/0002_x.sql", 1),
                                                                        ("migrations/seed.sql", None)]
    assert reviewed["summary"]["errors"] == checked["summary"]["errors"] == 2


def test_each_environment_is_reviewed_with_its_own_policy(ci, shop):
    lenient = ReviewPolicy.objects.create(name="lenient")
    RuleSetting.objects.create(policy=lenient, rule_id="table.disallow-drop", severity="warning")
    Environment.objects.filter(project=shop, slug="test").update(review_policy=lenient)
    response = ci.post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 201
    check = Check.objects.get(pk=response.json()["id"])
    error, warning = drop_findings(check)
    assert (error.severity, error.environments, error.policy.name) == ("error", ["staging", "prod"], "recommended")
    assert (warning.severity, warning.environments, warning.policy) == ("warning", ["test"], lenient)
    assert check.blocking is True


def test_the_project_default_policy_applies_where_an_environment_has_none(ci, shop):
    lenient = ReviewPolicy.objects.create(name="lenient")
    RuleSetting.objects.create(policy=lenient, rule_id="table.disallow-drop", severity="warning")
    shop.default_policy = lenient
    shop.save()
    response = ci.post("/api/v1/projects/shop/checks", payload(), format="json")
    check = Check.objects.get(pk=response.json()["id"])
    [drop] = drop_findings(check)
    assert (drop.severity, drop.environments, drop.policy) == (
        "warning",
        ["test", "staging", "prod"],
        lenient,
    )
    assert check.blocking == any(f["severity"] == "error" for f in response.json()["findings"])


def test_an_empty_file_is_reported_once_as_the_engines_finding(ci):
    files = [
        {"path": "migrations/0002_empty.sql", "content": ""},
        {"path": "migrations/0003_nul.sql", "content_base64": "U0VMRUNUIDE7AAo="},  # SELECT 1;\0
    ]
    response = ci.post("/api/v1/projects/shop/checks", {"files": files}, format="json")
    assert response.status_code == 201
    doc = response.json()
    found = sorted((f["file"], f["rule"]) for f in doc["findings"])
    assert found == [
        ("migrations/0002_empty.sql", "system.empty-file"),
        ("migrations/0003_nul.sql", "system.encoding-error"),
    ]
    assert doc["errors"] == []
    assert (doc["summary"]["errors"], doc["summary"]["blocking"]) == (2, True)


def test_a_file_that_cannot_run_stays_an_error_whatever_a_stored_row_says(ci, shop):
    # A row stored before such rows were refused (the admin and the import refuse them now) is passed
    # over: the empty file is an error finding (which the release's refusal is not listed again beside).
    lenient = ReviewPolicy.objects.create(name="lenient")
    RuleSetting.objects.create(policy=lenient, rule_id="system.empty-file", severity="warning")
    shop.default_policy = lenient
    shop.save()
    body = {"files": [{"path": "migrations/0002_empty.sql", "content": ""}]}
    doc = ci.post("/api/v1/projects/shop/checks", body, format="json").json()
    assert [(f["rule"], f["severity"]) for f in doc["findings"]] == [("system.empty-file", "error")]
    assert doc["errors"] == []
    assert (doc["summary"]["errors"], doc["summary"]["warnings"], doc["summary"]["blocking"]) == (1, 0, True)


def test_it_reviews_each_policy_and_dialect_once(ci, shop, monkeypatch, tmp_path):
    prod = Environment.objects.get(project=shop, slug="prod")
    Database.objects.create(
        environment=prod, name="shop-prod-pg", url="postgresql://app@db.example:5432/shop"
    )
    calls = []
    real = reviews_api.review_files

    def counting(files, dialect, policy):
        calls.append((dialect, policy.name))
        return real(files, dialect, policy)

    monkeypatch.setattr(reviews_api, "review_files", counting)
    response = ci.post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 201
    assert sorted(calls) == [("postgres", "recommended"), ("sqlite", "recommended")]
    check = Check.objects.get(pk=response.json()["id"])
    environments = sorted(tuple(f.environments) for f in drop_findings(check))
    # Same finding, same severity in both dialects: one row for all three environments.
    assert environments == [("test", "staging", "prod")]


def test_a_problem_raised_by_several_engines_is_counted_once(ci, shop):
    prod = Environment.objects.get(project=shop, slug="prod")
    prod.databases.all().delete()
    Database.objects.create(
        environment=prod, name="shop-prod-pg", url="postgresql://app@db.example:5432/shop"
    )
    content = "CREATE TABLE notes (body text);\n"
    response = ci.post("/api/v1/projects/shop/checks", payload(content), format="json")
    assert response.status_code == 201
    doc = response.json()
    # Each engine gives its own advice, so a row each, with the same fingerprint at the same place.
    rows = [f for f in doc["findings"] if f["rule"] == "table.require-pk"]
    assert sorted(f["environments"] for f in rows) == [["prod"], ["test", "staging"]]
    assert len({(f["line"], f["column"], f["fingerprint"]) for f in rows}) == 1
    assert "INTEGER PRIMARY KEY" in rows[0]["message"] + rows[1]["message"]
    assert "GENERATED ALWAYS AS IDENTITY" in rows[0]["message"] + rows[1]["message"]
    assert (doc["summary"]["warnings"], doc["summary"]["errors"]) == (1, 0)
    assert Check.objects.get(pk=doc["id"]).summary["warnings"] == 1


def test_a_named_dialect_overrides_the_engines(ci, monkeypatch):
    calls = []
    real = reviews_api.review_files
    monkeypatch.setattr(reviews_api, "review_files", lambda f, d, p: calls.append(d) or real(f, d, p))
    response = ci.post("/api/v1/projects/shop/checks", payload(dialect="mysql"), format="json")
    assert response.status_code == 201
    assert calls == ["mysql"]


def test_it_needs_a_dialect_when_the_project_has_no_databases(other):
    client = client_for(other, ["check"])
    response = client.post("/api/v1/projects/other/checks", payload(), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "dialect_required"
    assert not Check.objects.exists()
    response = client.post("/api/v1/projects/other/checks", payload(dialect="postgres"), format="json")
    assert response.status_code == 201
    check = Check.objects.get()
    assert drop_findings(check)[0].environments == []


def test_it_stores_suppressed_findings_too(ci):
    content = "-- sluice:ignore table.disallow-drop\n" + DROP
    response = ci.post("/api/v1/projects/shop/checks", payload(content), format="json")
    check = Check.objects.get(pk=response.json()["id"])
    [drop] = drop_findings(check)
    assert drop.suppressed is True
    assert check.summary["errors"] == 0
    assert check.blocking is False


def test_it_rejects_bad_paths_and_stores_nothing(ci):
    for path in ["../x.sql", "/abs.sql", "a\\b.sql", "./m/0001_x.sql", "m//0001_x.sql", "m/0001_x\u202e.sql"]:
        body = {"files": [{"path": path, "content": DROP}]}
        response = ci.post("/api/v1/projects/shop/checks", body, format="json")
        assert response.status_code == 400
        assert repr(path) in response.json()["error"]["message"]
    assert not Check.objects.exists()


@pytest.mark.parametrize(
    "extra, field, message",
    [
        ({"policy": "strict"}, "policy", "a check applies each environment's policy"),
        ({"failOn": "never"}, "failOn", "unknown key: expected files, vcs, dialect, fail_on"),
        ({"vcs": {**VCS, "branch": "main"}}, "vcs.branch", "unknown key"),
    ],
)
def test_it_refuses_keys_it_does_not_take(ci, extra, field, message):
    response = ci.post("/api/v1/projects/shop/checks", payload(**extra), format="json")
    assert response.status_code == 400
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == field and message in detail["message"]
    assert not Check.objects.exists()


@pytest.mark.parametrize(
    "vcs, message",
    [
        ({"pr": 4.5}, "must be a pull request number"),
        ({"pr": "42a"}, "must be a pull request number"),
        ({"pr": -1}, "must be a pull request number"),
        ({"pr": True}, "must be a pull request number"),
        ({"repo": 123}, "Not a valid string."),
        ({"head_sha": 123}, "Not a valid string."),
        ({"base_sha": "not-a-sha"}, "must be a commit SHA in hexadecimal"),
        ({"url": 5}, "Enter a valid URL."),
        ({"provider": "svn"}, '"svn" is not one of github, gitlab, azure, bitbucket, other'),
        ({"provider": ["github"]}, "must be a string: one of github, gitlab, azure, bitbucket, other"),
    ],
)
def test_it_checks_the_type_of_each_vcs_field(ci, vcs, message):
    response = ci.post("/api/v1/projects/shop/checks", payload(vcs={**VCS, **vcs}), format="json")
    assert response.status_code == 400
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == f"vcs.{next(iter(vcs))}" and detail["message"].startswith(message)
    assert not Check.objects.exists()


def test_a_pull_request_number_may_be_a_string_of_digits(ci):
    response = ci.post("/api/v1/projects/shop/checks", payload(vcs={**VCS, "pr": "42"}), format="json")
    assert response.status_code == 201
    assert response.json()["vcs"]["pr"] == "42"


def test_it_refuses_a_body_over_the_limit(ci, settings):
    settings.SLUICE_MAX_REQUEST_BYTES = 500
    response = ci.post("/api/v1/projects/shop/checks", payload("SELECT 1;\n" * 100), format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert not Check.objects.exists()


def test_it_locates_bad_json(ci):
    response = ci.generic(
        "POST", "/api/v1/projects/shop/checks", '{"files": [', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [{"line": 1, "column": 12}]


def test_deeply_nested_json_is_a_parse_error(ci):
    payload = '{"files": ' + "[" * 3000 + "]" * 3000 + "}"
    response = ci.generic("POST", "/api/v1/projects/shop/checks", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not Check.objects.exists()


def test_creating_rejects_a_revoked_token(shop):
    issued, raw = ApiToken.issue(shop, "old", ["check"])
    issued.revoke()
    response = APIClient().post(
        "/api/v1/projects/shop/checks", payload(), format="json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 401
    assert not Check.objects.exists()


def test_creating_rejects_a_token_of_another_project(shop, other):
    response = client_for(other, ["check"]).post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "the token belongs to another project"
    assert not Check.objects.exists()


def test_creating_rejects_a_token_without_the_check_scope(shop):
    response = client_for(shop, ["read", "release"]).post(
        "/api/v1/projects/shop/checks", payload(), format="json"
    )
    assert response.status_code == 403
    assert "'check' scope" in response.json()["error"]["message"]


def test_creating_needs_credentials(shop):
    response = APIClient().post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 401


def test_creating_is_open_to_staff_but_not_to_other_users(shop):
    browser = APIClient()
    browser.force_login(User.objects.create_user("charlie"))
    assert browser.post("/api/v1/projects/shop/checks", payload(), format="json").status_code == 403
    browser.force_login(User.objects.create_user("alice", is_staff=True))
    response = browser.post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 201
    assert Check.objects.get().created_by == "alice"
    assert browser.post("/api/v1/projects/nope/checks", payload(), format="json").status_code == 404


@pytest.fixture
def stored(ci):
    response = ci.post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 201
    return response.json()


def test_it_returns_a_stored_check(ci, stored):
    response = ci.get(f"/api/v1/checks/{stored['id']}")
    assert response.status_code == 200
    assert response.json() == stored


def test_reading_a_check_takes_a_bounded_number_of_queries(shop, stored, django_assert_max_num_queries):
    reader = client_for(shop, ["read"], name="reader")
    Finding.objects.bulk_create(
        [
            Finding(
                check_run_id=stored["id"],
                rule_id="table.disallow-drop",
                severity="error",
                message="m",
                file=f"m/{i:04}_x.sql",
                line=1,
                column=1,
                end_line=1,
                fingerprint=str(i),
            )
            for i in range(50)
        ]
    )
    # token (with its project), last-used update, check (with its project), findings
    with django_assert_max_num_queries(4):
        response = reader.get(f"/api/v1/checks/{stored['id']}")
    assert response.status_code == 200
    assert len(response.json()["findings"]) == len(stored["findings"]) + 50


def test_reading_rejects_a_revoked_token(shop, stored):
    issued, raw = ApiToken.issue(shop, "old", ["read"])
    issued.revoke()
    response = APIClient().get(f"/api/v1/checks/{stored['id']}", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401


def test_reading_another_projects_check_is_404_for_a_token(other, stored):
    # As for an id that does not exist: the token learns nothing about other projects.
    client = client_for(other, ["read"])
    response = client.get(f"/api/v1/checks/{stored['id']}")
    assert response.status_code == 404
    assert response.json() == client.get("/api/v1/checks/999999").json()


def test_reading_rejects_a_token_without_the_read_scope(shop, stored):
    response = client_for(shop, ["check"], name="writer").get(f"/api/v1/checks/{stored['id']}")
    assert response.status_code == 403


def test_reading_needs_credentials(stored):
    assert APIClient().get(f"/api/v1/checks/{stored['id']}").status_code == 401


def test_reading_is_open_to_staff_but_not_to_other_users(stored):
    browser = APIClient()
    browser.force_login(User.objects.create_user("charlie"))
    assert browser.get(f"/api/v1/checks/{stored['id']}").status_code == 403
    browser.force_login(User.objects.create_user("alice", is_staff=True))
    assert browser.get(f"/api/v1/checks/{stored['id']}").json()["id"] == stored["id"]


def test_reading_an_unknown_check_is_404(ci):
    response = ci.get("/api/v1/checks/999999")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_environment_policy_that_no_longer_validates_is_a_409(ci, shop):
    broken = ReviewPolicy.objects.create(name="broken")
    RuleSetting.objects.create(policy=broken, rule_id="rule.removed-from-the-code", severity="error")
    Environment.objects.filter(project=shop, slug="prod").update(review_policy=broken)
    response = ci.post("/api/v1/projects/shop/checks", payload(), format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_policy"
    assert "'broken'" in error["message"]
    assert not Check.objects.exists()


def released(project: Project, files: dict[str, str]):
    from releases.loader import checksum, parse_name
    from releases.models import Release, ReleaseFile

    release = Release.objects.create(project=project, uid="rel-20261126-01", commit_sha="c" * 40)
    for path, content in files.items():
        version, description, kind = parse_name(path)
        ReleaseFile.objects.create(release=release, path=path, version=version, description=description,
                                   kind=kind, checksum=checksum(content), content=content)
    return release


def test_an_edited_released_migration_is_modified_history(shop, ci):
    released(shop, {"migrations/0001_init.sql": "CREATE TABLE a (id bigint PRIMARY KEY);\n"})
    body = {"files": [{"path": "migrations/0001_init.sql",
                       "content": "CREATE TABLE a (id bigint PRIMARY KEY, name text);\n"}], "vcs": VCS}
    response = ci.post("/api/v1/projects/shop/checks", body, format="json")
    assert response.status_code == 201, response.json()
    [found] = [f for f in response.json()["findings"] if f["rule"] == "migration.modified-history"]
    assert found["severity"] == "error" and "was released in rel-20261126-01" in found["message"]
    assert response.json()["summary"]["blocking"] is True
    assert Finding.objects.filter(rule_id="migration.modified-history").count() == 1


def test_the_same_released_file_with_crlf_is_not_a_modification(shop, ci):
    released(shop, {"migrations/0001_init.sql": "CREATE TABLE a (id bigint PRIMARY KEY);\n"})
    body = {"files": [{"path": "db/0001_init.sql", "content": "CREATE TABLE a (id bigint PRIMARY KEY);\r\n"}],
            "vcs": VCS}
    response = ci.post("/api/v1/projects/shop/checks", body, format="json")
    assert not [f for f in response.json()["findings"] if f["rule"].startswith("migration.")]


def test_a_new_version_older_than_the_newest_release_is_non_linear(shop, ci):
    released(shop, {"migrations/0001_init.sql": "SELECT 1;\n", "migrations/0005_more.sql": "SELECT 5;\n"})
    body = {"files": [{"path": "migrations/0003_late.sql", "content": "CREATE TABLE l (id bigint PRIMARY KEY);\n"},
                      {"path": "migrations/0006_next.sql", "content": "CREATE TABLE n (id bigint PRIMARY KEY);\n"}],
            "vcs": VCS}
    response = ci.post("/api/v1/projects/shop/checks", body, format="json")
    found = [(f["file"], f["severity"]) for f in response.json()["findings"] if f["rule"] == "migration.non-linear"]
    assert found == [("migrations/0003_late.sql", "warning")]
    [message] = [f["message"] for f in response.json()["findings"] if f["rule"] == "migration.non-linear"]
    assert "databases that have 0005 refuse it as out of order" in message


def test_an_out_of_order_version_is_advice_when_the_project_allows_it(shop, ci):
    shop.allow_out_of_order = True
    shop.save()
    released(shop, {"migrations/0001_init.sql": "SELECT 1;\n", "migrations/0005_more.sql": "SELECT 5;\n"})
    late = {"path": "migrations/0003_late.sql", "content": "CREATE TABLE l (id bigint PRIMARY KEY);\n"}
    response = ci.post("/api/v1/projects/shop/checks", {"files": [late]}, format="json")
    [found] = [f for f in response.json()["findings"] if f["rule"] == "migration.non-linear"]
    assert "refuse" not in found["message"]
    assert "databases that have 0005 apply it after 0005, new ones before it" in found["message"]


def test_the_recommended_policy_as_tuned_in_the_admin_is_the_fallback(ci, shop):
    """No policy on the environments, none on the project: the stored `recommended` applies, with
    the admin's edits, to checks and to the stateless review alike (not the built-in template)."""
    recommended = ReviewPolicy.objects.get(name="recommended")
    RuleSetting.objects.update_or_create(policy=recommended, rule_id="table.disallow-drop",
                                         defaults={"severity": "warning"})
    response = ci.post("/api/v1/projects/shop/checks", payload(), format="json")
    [drop] = drop_findings(Check.objects.get(pk=response.json()["id"]))
    assert (drop.severity, drop.environments, drop.policy) == ("warning", ["test", "staging", "prod"], recommended)

    review = ci.post("/api/v1/review", {"dialect": "sqlite", "files": payload()["files"]}, format="json")
    assert review.status_code == 200
    assert [f["severity"] for f in review.json()["findings"] if f["rule"] == "table.disallow-drop"] == ["warning"]


def test_each_file_gets_its_own_risk_level(ci):
    files = [{"path": "migrations/0002_a.sql", "content": "CREATE TABLE a (id bigint PRIMARY KEY);\n"},
             {"path": "migrations/0003_b.sql", "content": "UPDATE a SET id = id WHERE id = 1;\n"},
             {"path": "migrations/0004_c.sql", "content": "TRUNCATE a;\n"}]
    doc = ci.post("/api/v1/projects/shop/checks", {"files": files, "vcs": VCS}, format="json").json()
    assert [(f["file"], f["risk"]) for f in doc["files"]] == [
        ("migrations/0002_a.sql", "low"), ("migrations/0003_b.sql", "moderate"), ("migrations/0004_c.sql", "high")]
    assert doc["summary"]["risk"] == "high"
    assert ci.get(f"/api/v1/checks/{doc['id']}").json()["files"] == doc["files"]
