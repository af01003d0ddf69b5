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
