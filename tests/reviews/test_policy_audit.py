"""Audit of the policy admin and `manage.py policy import|export`: what they must refuse, and what a
round trip must keep."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from reviews.engine import RULES, review_files
from reviews.models import ReviewPolicy, RuleSetting
from reviews.policy_io import policy_from_model
from tests.helpers import manage
from tests.reviews.test_policy_admin import form_data

pytestmark = pytest.mark.django_db

SIZE = "system.maximum-sql-size"  # payload {"max_bytes": int >= 1}
PER_ENGINE = "index.no-duplicate-column"  # default warning, error on MySQL


def import_fails(tmp_path, text: str) -> CommandError:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as raised:
        call_command("policy", "import", str(path), stdout=StringIO(), stderr=StringIO())
    return raised.value


# -- admin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["[]", "0", '""', "false"])
def test_the_admin_refuses_a_payload_that_is_not_an_object(admin_client, payload):
    policy = ReviewPolicy.objects.create(name="lenient")
    row = {"rule_id": SIZE, "severity": "warning", "payload": payload}
    response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
    assert response.status_code == 200
    [form] = [f for f in response.context["inline_admin_formsets"][0].formset.forms if f.errors]
    assert "must be an object" in form.errors["payload"][0]
    assert not RuleSetting.objects.exists()


def test_the_rule_setting_admin_refuses_a_list_payload(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    response = admin_client.post(
        "/admin/reviews/rulesetting/add/",
        {"policy": str(policy.pk), "rule_id": SIZE, "severity": "error", "payload": "[]"},
    )
    assert response.status_code == 200
    assert "must be an object" in response.context["adminform"].form.errors["payload"][0]
    assert not RuleSetting.objects.exists()


# -- import ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", [
    f"{{id: {SIZE}, severity: error, payload: []}}",
    f"{{id: {SIZE}, severity: error, payload: 0}}",
    f"{{id: {SIZE}, severity: error, payload: {{1: 2}}}}",
])
def test_import_refuses_a_payload_that_is_not_a_mapping_of_names(tmp_path, row):
    error = import_fails(tmp_path, f"name: fresh\nrules:\n  - {row}\n")
    assert error.returncode == 2 and f"{SIZE}: the payload must be a mapping" in str(error)
    assert not ReviewPolicy.objects.filter(name="fresh").exists()


def test_import_names_a_row_key_that_is_not_a_string(tmp_path):
    error = import_fails(tmp_path, f"name: fresh\nrules:\n  - {{id: {SIZE}, severity: error, 1: 2}}\n")
    assert error.returncode == 2 and f"{SIZE}: unknown key(s) 1" in str(error)
    assert not ReviewPolicy.objects.filter(name="fresh").exists()


@pytest.mark.parametrize("name, message", [
    ("a" * 51, "at most 50 characters"),
    ('"team\\n"', "must be a slug"),
])
def test_import_refuses_a_name_the_policy_cannot_have(tmp_path, name, message):
    error = import_fails(tmp_path, f"name: {name}\nrules: []\n")
    assert error.returncode == 2 and message in str(error)
    assert not ReviewPolicy.objects.exclude(name__in=["recommended", "strict"]).exists()


# -- export → import -------------------------------------------------------------------------------


def test_round_trip_keeps_a_setting_equal_to_the_default_of_another_engine(tmp_path):
    team = ReviewPolicy.objects.create(name="team")
    RuleSetting.objects.create(policy=team, rule_id=PER_ENGINE, severity="warning")  # not an error on MySQL
    path = tmp_path / "team.yaml"
    call_command("policy", "export", "team", "--output", str(path), stdout=StringIO(), stderr=StringIO())
    assert {"id": PER_ENGINE, "severity": "warning", "payload": {}} in yaml.safe_load(path.read_text())["rules"]
    call_command("policy", "import", str(path), "--name", "copy", stdout=StringIO(), stderr=StringIO())
    example = [("migrations/V1__x.sql", RULES[PER_ENGINE].example)]
    for name in ("team", "copy"):
        findings = review_files(example, "mysql", policy_from_model(ReviewPolicy.objects.get(name=name))).findings
        assert [f.severity for f in findings if f.rule == PER_ENGINE] == ["warning"], name


# -- rows for every rule ---------------------------------------------------------------------------

DIALECTS = ("postgres", "mysql", "sqlite")


def severities(policy: ReviewPolicy) -> dict[tuple[str, str], str]:
    engine = policy_from_model(policy)
    return {(rule_id, dialect): engine.severity(rule_id, dialect) for rule_id in RULES for dialect in DIALECTS}


def mysql_severities(policy: ReviewPolicy, rule_id: str) -> list[str]:
    example = [("migrations/V1__x.sql", RULES[rule_id].example)]
    return [f.severity for f in review_files(example, "mysql", policy_from_model(policy)).findings if f.rule == rule_id]


def test_adding_rows_for_all_rules_keeps_the_per_engine_defaults(admin_client):
    team = ReviewPolicy.objects.create(name="team")
    before = severities(team)
    response = admin_client.post("/admin/reviews/reviewpolicy/",
                                 {"action": "add_rows_for_all_rules", "_selected_action": [str(team.pk)]})
    assert response.status_code == 302
    assert team.rules.count() == len(RULES)
    assert severities(team) == before
    assert mysql_severities(team, PER_ENGINE) == ["error"]
    assert mysql_severities(team, "statement.max-execution-time") == []  # off on MySQL


def test_export_all_then_import_keeps_the_per_engine_defaults(tmp_path):
    ReviewPolicy.objects.create(name="team")
    path = tmp_path / "team.yaml"
    call_command("policy", "export", "team", "--all", "--output", str(path), stdout=StringIO(), stderr=StringIO())
    assert len(yaml.safe_load(path.read_text())["rules"]) == len(RULES)
    call_command("policy", "import", str(path), "--name", "copy", stdout=StringIO(), stderr=StringIO())
    copy = ReviewPolicy.objects.get(name="copy")
    assert copy.rules.count() == len(RULES)
    assert severities(copy) == severities(ReviewPolicy.objects.get(name="team"))
    assert mysql_severities(copy, PER_ENGINE) == ["error"]


# -- import: bounded -------------------------------------------------------------------------------


def test_import_refuses_a_file_whose_aliases_expand_beyond_the_limit(tmp_path):
    # 20 KB on disk, 10 MB of payload once its thousand aliases of a 10,000-character string are expanded
    aliases = ", ".join(["*s"] * 1000)
    text = (f"name: laughs\ndescription: &s {'x' * 10_000}\n"
            f"rules:\n  - {{id: column.required, severity: error, payload: {{columns: [{aliases}]}}}}\n")
    error = import_fails(tmp_path, text)
    assert error.returncode == 2 and "too large once its aliases are expanded" in str(error)
    assert not ReviewPolicy.objects.filter(name="laughs").exists()


def test_import_refuses_a_file_over_the_size_limit(tmp_path):
    error = import_fails(tmp_path, "name: huge\ndescription: " + "x" * 1_000_000 + "\n")
    assert error.returncode == 2 and "larger than 1000000 bytes" in str(error)
    assert not ReviewPolicy.objects.filter(name="huge").exists()


# -- integers --------------------------------------------------------------------------------------


def test_import_stores_an_integral_number_as_an_integer(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(f"name: fresh\nrules:\n  - {{id: {SIZE}, severity: error, payload: {{max_bytes: 1000.0}}}}\n")
    call_command("policy", "import", str(path), stdout=StringIO(), stderr=StringIO())
    payload = RuleSetting.objects.get(policy__name="fresh", rule_id=SIZE).payload
    assert payload == {"max_bytes": 1000} and type(payload["max_bytes"]) is int
    out = StringIO()
    call_command("policy", "export", "fresh", stdout=out, stderr=StringIO())
    assert "max_bytes: 1000\n" in out.getvalue()


def test_the_admin_stores_an_integral_number_as_an_integer(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    row = {"rule_id": SIZE, "severity": "error", "payload": '{"max_bytes": 1000.0}'}
    response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
    assert response.status_code == 302
    payload = RuleSetting.objects.get(policy=policy).payload
    assert payload == {"max_bytes": 1000} and type(payload["max_bytes"]) is int


def test_a_number_that_is_not_whole_is_still_refused(tmp_path):
    error = import_fails(tmp_path, f"name: fresh\nrules:\n  - {{id: {SIZE}, severity: error, payload: {{max_bytes: 1.5}}}}\n")
    assert error.returncode == 2 and f"{SIZE}: bad payload" in str(error)


# -- the control database fails ----------------------------------------------------------------------


@pytest.mark.parametrize("args", [["export", "strict"], ["import", "{file}"], ["ensure-templates"]])
def test_a_control_database_that_fails_exits_3_with_one_line(tmp_path, args):
    file = tmp_path / "policy.yaml"
    file.write_text(f"name: fresh\nrules:\n  - {{id: {SIZE}, severity: error}}\n")
    empty = tmp_path / "control.sqlite3"  # a database without Sluice's tables
    run = manage("policy", *[arg.format(file=file) for arg in args], env={"DATABASE_URL": f"sqlite:///{empty}"})
    assert run.returncode == 3, run.stderr
    assert run.stderr.startswith("CommandError: the control database failed: ") and run.stderr.count("\n") == 1


@pytest.mark.parametrize("severity", ["disabled", "info", "warning"])
def test_a_policy_cannot_turn_down_what_says_the_file_cannot_run(tmp_path, severity):
    error = import_fails(tmp_path, f"name: fresh\nrules:\n  - {{id: system.syntax-error, severity: {severity}}}\n")
    assert error.returncode == 2 and "system.syntax-error: always an error" in str(error)
    assert not ReviewPolicy.objects.filter(name="fresh").exists()


def test_a_row_stored_before_cannot_turn_them_down_either():
    from reviews.engine import Policy
    from reviews.engine.policy import Setting

    # (A Policy built by hand, as one from rows stored before the rule: the engine holds to error.)
    lax = Policy("lax", {rule: Setting("disabled") for rule in
                         ("system.syntax-error", "system.encoding-error", "system.empty-file")})
    result = review_files([("a.sql", b"SELEC 1;"), ("b.sql", b"SELECT 1; -- caf\xe9\n"), ("c.sql", b"-- nothing\n")],
                          "postgres", lax)
    assert sorted((f.file, f.rule, f.severity) for f in result.findings) == [
        ("a.sql", "system.syntax-error", "error"), ("b.sql", "system.encoding-error", "error"),
        ("c.sql", "system.empty-file", "error")]
    assert result.blocking()
