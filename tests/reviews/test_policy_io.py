"""`manage.py policy export|import|ensure-templates` and stored policies → engine policies."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from reviews.engine import RULES, Policy
from reviews.models import ReviewPolicy, RuleSetting
from reviews.policy_io import ensure_templates, export_policy, import_policy, policy_from_model

pytestmark = pytest.mark.django_db

SIZE = "system.maximum-sql-size"  # an opt-in rule with a validated payload ({"max_bytes": int >= 1})


def run(*args: str) -> str:
    out = StringIO()
    call_command("policy", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fails(*args: str) -> CommandError:
    with pytest.raises(CommandError) as raised:
        call_command("policy", *args, stdout=StringIO(), stderr=StringIO())
    return raised.value


def effective(policy: Policy) -> list:
    return policy.as_rows()


@pytest.fixture
def team() -> ReviewPolicy:
    policy = ReviewPolicy.objects.create(name="team", description="Our house rules")
    RuleSetting.objects.create(policy=policy, rule_id="system.client-command", severity="warning")
    RuleSetting.objects.create(policy=policy, rule_id=SIZE, severity="error", payload={"max_bytes": 1000})
    return policy


# -- stored → engine -----------------------------------------------------------------------------


def test_the_data_migration_creates_the_two_templates():
    assert set(ReviewPolicy.objects.values_list("name", flat=True)) >= {"recommended", "strict"}
    assert not RuleSetting.objects.filter(policy__name__in=["recommended", "strict"]).exists()


def test_a_template_without_rows_is_the_template():
    for name in ("recommended", "strict"):
        stored = ReviewPolicy.objects.get(name=name)
        assert effective(policy_from_model(stored)) == effective(Policy.template(name))


def test_rows_override_the_template_of_the_same_name():
    strict = ReviewPolicy.objects.get(name="strict")
    raised = next(r for r in RULES.values() if r.strict_severity)
    RuleSetting.objects.create(policy=strict, rule_id=raised.id, severity="info")
    engine = policy_from_model(strict)
    assert engine.severity(raised.id) == "info"
    others = [r for r in RULES.values() if r.strict_severity and r.id != raised.id]
    assert all(engine.severity(r.id) == r.strict_severity for r in others)


def test_another_policy_overrides_the_catalogue_defaults(team):
    engine = policy_from_model(team)
    assert engine.severity("system.client-command") == "warning"
    assert engine.severity(SIZE) == "error" and engine.payload(SIZE) == {"max_bytes": 1000}
    assert engine.severity("system.syntax-error") == "error"


# -- export ----------------------------------------------------------------------------------------


def test_export_lists_the_rules_that_differ_from_the_default(team):
    document = yaml.safe_load(run("export", "team"))
    assert document == {
        "name": "team",
        "description": "Our house rules",
        "rules": [
            {"id": "system.client-command", "severity": "warning", "payload": {}},
            {"id": SIZE, "severity": "error", "payload": {"max_bytes": 1000}},
        ],
    }


def test_export_all_lists_every_rule(team):
    document = yaml.safe_load(run("export", "team", "--all"))
    assert [row["id"] for row in document["rules"]] == sorted(RULES)
    assert {"id": "system.syntax-error", "severity": "error", "payload": {}} in document["rules"]


def test_export_of_strict_lists_its_raised_rules():
    rows = {row["id"]: row["severity"] for row in export_policy("strict")["rules"]}
    assert rows == {r.id: r.strict_severity for r in RULES.values() if r.strict_severity}


def test_export_writes_to_a_file(team, tmp_path):
    target = tmp_path / "team.yaml"
    assert run("export", "team", "--output", str(target)) == ""
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["name"] == "team"


def test_export_of_an_unknown_policy_exits_2():
    error = fails("export", "nope")
    assert error.returncode == 2 and "unknown policy 'nope'" in str(error)


# -- import ----------------------------------------------------------------------------------------


def test_export_import_round_trip(team, tmp_path):
    path = tmp_path / "team.yaml"
    run("export", "team", "--output", str(path))
    assert run("import", str(path), "--name", "copy") == "policy copy created: 2 rule setting(s)\n"
    copy = ReviewPolicy.objects.get(name="copy")
    assert copy.description == "Our house rules"
    assert effective(policy_from_model(copy)) == effective(policy_from_model(team))


def test_round_trip_of_an_edited_template_under_another_name(tmp_path):
    strict = ReviewPolicy.objects.get(name="strict")
    lowered = next(r for r in RULES.values() if r.strict_severity)
    RuleSetting.objects.create(policy=strict, rule_id=lowered.id, severity=lowered.severity)
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(export_policy("strict")), encoding="utf-8")
    run("import", str(path), "--name", "strict-copy")
    copy = ReviewPolicy.objects.get(name="strict-copy")
    assert effective(policy_from_model(copy)) == effective(policy_from_model(strict))
    assert policy_from_model(copy).severity(lowered.id) == lowered.severity


def test_import_merges_unless_replace(team, tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text("name: team\nrules:\n  - {id: system.parse-unsupported, severity: warning}\n", encoding="utf-8")
    run("import", str(path))
    assert set(team.rules.values_list("rule_id", flat=True)) == {"system.client-command", SIZE, "system.parse-unsupported"}
    assert run("import", str(path), "--replace") == "policy team updated: 1 rule setting(s)\n"
    assert list(team.rules.values_list("rule_id", "severity")) == [("system.parse-unsupported", "warning")]
    team.refresh_from_db()
    assert team.description == "Our house rules"  # the file has none: kept


def test_an_unknown_rule_id_exits_2_and_saves_nothing(team, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "team", "description": "changed", "rules": [
        {"id": "system.parse-unsupported", "severity": "warning", "payload": {}},
        {"id": "table.no-such-rule", "severity": "error", "payload": {}},
    ]}), encoding="utf-8")
    error = fails("import", str(path), "--replace")
    assert error.returncode == 2
    assert "unknown rule id 'table.no-such-rule'" in str(error)
    team.refresh_from_db()
    assert team.description == "Our house rules"
    assert set(team.rules.values_list("rule_id", "severity")) == {("system.client-command", "warning"), (SIZE, "error")}


def test_a_new_policy_with_a_bad_payload_is_not_created(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "fresh", "rules": [
        {"id": "system.client-command", "severity": "warning"},
        {"id": SIZE, "severity": "error", "payload": {"max_bytes": "big"}},
    ]}), encoding="utf-8")
    error = fails("import", str(path))
    assert error.returncode == 2
    assert f"{SIZE}: bad payload" in str(error)
    assert not ReviewPolicy.objects.filter(name="fresh").exists()
    assert not RuleSetting.objects.filter(rule_id="system.client-command").exists()


@pytest.mark.parametrize("rows, message", [
    ([{"id": SIZE, "severity": "error", "payload": {"limit": 3}}], f"{SIZE}: unknown payload key(s) limit"),
    ([{"id": SIZE, "severity": "fatal"}], f"{SIZE}: severity must be one of"),
    ([{"id": SIZE, "severity": "error"}, {"id": SIZE, "severity": "info"}], f"{SIZE}: listed twice"),
    ([{"id": SIZE, "level": "error"}], f"{SIZE}: unknown key(s) level"),
    (["system.client-command"], "rules[1]: expected a mapping"),
])
def test_every_bad_row_exits_2_naming_the_rule(tmp_path, rows, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "fresh", "rules": rows}), encoding="utf-8")
    error = fails("import", str(path))
    assert error.returncode == 2 and message in str(error)
    assert not ReviewPolicy.objects.filter(name="fresh").exists()


@pytest.mark.parametrize("text, message", [
    ("name: [unclosed", "not valid YAML"),
    ("- just a list", "expected a mapping"),
    ("name: Not A Slug!\n", "must be a slug"),
    ("name: x\nrules: {a: 1}\n", "rules must be a list"),
])
def test_a_malformed_file_exits_2(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    error = fails("import", str(path))
    assert error.returncode == 2 and message in str(error)


def test_a_missing_file_exits_2(tmp_path):
    error = fails("import", str(tmp_path / "nope.yaml"))
    assert error.returncode == 2 and "nope.yaml: cannot read the file" in str(error)


def test_import_policy_returns_whether_it_created():
    text = "name: fresh\ndescription: new\nrules: []\n"
    assert import_policy(text)[1] is True
    assert import_policy(text)[1] is False


# -- templates -------------------------------------------------------------------------------------


def test_ensure_templates_is_idempotent():
    ReviewPolicy.objects.filter(name="strict").delete()
    ensure_templates()
    ensure_templates()
    assert ReviewPolicy.objects.filter(name__in=["recommended", "strict"]).count() == 2
    assert not RuleSetting.objects.exists()


def test_ensure_templates_rows_materialises_strict_and_keeps_edits():
    strict = ReviewPolicy.objects.get(name="strict")
    raised = sorted(r.id for r in RULES.values() if r.strict_severity)
    RuleSetting.objects.create(policy=strict, rule_id=raised[0], severity="info")
    run("ensure-templates", "--rows")
    run("ensure-templates", "--rows")
    assert sorted(strict.rules.values_list("rule_id", flat=True)) == raised
    assert strict.rules.get(rule_id=raised[0]).severity == "info"
    assert not RuleSetting.objects.filter(policy__name="recommended").exists()
