"""The policy admin: every rule listed with its explanation, every row validated."""

from __future__ import annotations

import pytest

import reviews.rules  # noqa: F401
from reviews.engine import RULES
from reviews.models import ReviewPolicy, RuleSetting

pytestmark = pytest.mark.django_db

PREFIX = "rules"


def form_data(policy: ReviewPolicy | None, rows: list[dict], **main) -> dict:
    """The POST of the change page: the stored rows first, then the given new rows."""
    stored = list(policy.rules.all()) if policy else []
    data = {
        "name": policy.name if policy else "lenient",
        "description": "",
        f"{PREFIX}-TOTAL_FORMS": str(len(stored) + len(rows)),
        f"{PREFIX}-INITIAL_FORMS": str(len(stored)),
        f"{PREFIX}-MIN_NUM_FORMS": "0",
        f"{PREFIX}-MAX_NUM_FORMS": "1000",
        **main,
    }
    for i, setting in enumerate(stored):
        data.update(
            {
                f"{PREFIX}-{i}-id": str(setting.pk),
                f"{PREFIX}-{i}-policy": str(policy.pk),
                f"{PREFIX}-{i}-rule_id": setting.rule_id,
                f"{PREFIX}-{i}-severity": setting.severity,
                f"{PREFIX}-{i}-payload": "{}",
            }
        )
    for j, row in enumerate(rows, start=len(stored)):
        data.update({f"{PREFIX}-{j}-{key}": value for key, value in row.items()})
    return data


def test_the_change_page_lists_every_rule_with_its_explanation(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    RuleSetting.objects.create(policy=policy, rule_id="table.disallow-drop", severity="warning")
    response = admin_client.get(f"/admin/reviews/reviewpolicy/{policy.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('value="table.disallow-drop"') == 1  # the stored row, not also a pre-filled one
    for rule_id in RULES:
        assert f'value="{rule_id}"' in html
        assert f'href="/rules/{rule_id}/"' in html
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.total_form_count() == len(RULES)


def test_the_add_page_pre_fills_every_rule_with_its_defaults(admin_client):
    response = admin_client.get("/admin/reviews/reviewpolicy/add/")
    formset = response.context["inline_admin_formsets"][0].formset
    initial = {form.initial["rule_id"]: form.initial for form in formset.forms}
    assert set(initial) == set(RULES)
    assert initial["table.disallow-drop"]["severity"] == RULES["table.disallow-drop"].severity


def test_untouched_pre_filled_rows_are_not_saved(admin_client):
    response = admin_client.get("/admin/reviews/reviewpolicy/add/")
    formset = response.context["inline_admin_formsets"][0].formset
    rows = []
    for form in formset.forms:
        rows.append(
            {
                "rule_id": form.initial["rule_id"],
                "severity": form.initial["severity"],
                "payload": form.fields["payload"].prepare_value(form.initial["payload"]),
            }
        )
    rows[0]["severity"] = "info"
    response = admin_client.post("/admin/reviews/reviewpolicy/add/", form_data(None, rows))
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    policy = ReviewPolicy.objects.get(name="lenient")
    assert [(s.rule_id, s.severity) for s in policy.rules.all()] == [(rows[0]["rule_id"], "info")]


def test_it_saves_a_valid_setting(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    row = {"rule_id": "table.disallow-drop", "severity": "warning", "payload": "{}"}
    response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
    assert response.status_code == 302
    setting = RuleSetting.objects.get(policy=policy)
    setting.refresh_from_db()
    assert (setting.rule_id, setting.severity, setting.payload) == ("table.disallow-drop", "warning", {})


def test_it_rejects_an_unknown_rule_id_on_its_field(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    row = {"rule_id": "table.no-such-rule", "severity": "warning", "payload": "{}"}
    response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
    assert response.status_code == 200
    [form] = [f for f in response.context["inline_admin_formsets"][0].formset.forms if f.errors]
    assert "Unknown rule id 'table.no-such-rule'" in form.errors["rule_id"][0]
    assert not RuleSetting.objects.exists()


@pytest.mark.parametrize("rule_id", ["system.syntax-error", "system.encoding-error", "system.empty-file"])
def test_a_file_that_cannot_run_stays_an_error(admin_client, rule_id):
    policy = ReviewPolicy.objects.create(name="lenient")
    for severity in ("disabled", "warning"):
        row = {"rule_id": rule_id, "severity": severity, "payload": "{}"}
        response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
        [form] = [f for f in response.context["inline_admin_formsets"][0].formset.forms if f.errors]
        assert "is always an error" in form.errors["severity"][0]
        assert not RuleSetting.objects.exists()
    row = {"rule_id": rule_id, "severity": "error", "payload": "{}"}
    response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
    assert response.status_code == 302
    assert RuleSetting.objects.get(policy=policy).severity == "error"


def test_it_rejects_an_unknown_severity_on_its_field(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    row = {"rule_id": "table.disallow-drop", "severity": "fatal", "payload": "{}"}
    response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
    [form] = [f for f in response.context["inline_admin_formsets"][0].formset.forms if f.errors]
    assert "severity" in form.errors
    assert not RuleSetting.objects.exists()


def test_it_rejects_a_payload_against_the_rule_schema_on_its_field(admin_client):
    rule_obj = next((r for r in RULES.values() if r.payload), None)
    if rule_obj is None:
        pytest.fail("no rule with a payload registered")
    policy = ReviewPolicy.objects.create(name="lenient")
    for payload, message in [('{"surprise": 1}', "unknown payload key"), ("[1]", "must be an object")]:
        row = {"rule_id": rule_obj.id, "severity": "warning", "payload": payload}
        response = admin_client.post(
            f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row])
        )
        [form] = [f for f in response.context["inline_admin_formsets"][0].formset.forms if f.errors]
        assert message in form.errors["payload"][0]
    assert not RuleSetting.objects.exists()


def test_it_rejects_a_payload_value_the_schema_forbids(admin_client):
    rule_obj = RULES.get("system.maximum-sql-size")
    if rule_obj is None or not rule_obj.schema:
        pytest.fail("system.maximum-sql-size has no schema")
    policy = ReviewPolicy.objects.create(name="lenient")
    row = {"rule_id": rule_obj.id, "severity": "warning", "payload": '{"max_bytes": "big"}'}
    response = admin_client.post(f"/admin/reviews/reviewpolicy/{policy.pk}/change/", form_data(policy, [row]))
    [form] = [f for f in response.context["inline_admin_formsets"][0].formset.forms if f.errors]
    assert "bad payload" in form.errors["payload"][0]


def test_the_rule_setting_admin_validates_too(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    response = admin_client.post(
        "/admin/reviews/rulesetting/add/",
        {
            "policy": str(policy.pk),
            "rule_id": "nope",
            "severity": "error",
            "payload": "{}",
        },
    )
    assert response.status_code == 200
    assert "Unknown rule id" in response.context["adminform"].form.errors["rule_id"][0]
    assert not RuleSetting.objects.exists()


def test_the_action_adds_a_row_for_every_rule(admin_client):
    policy = ReviewPolicy.objects.create(name="lenient")
    RuleSetting.objects.create(policy=policy, rule_id="table.disallow-drop", severity="warning")
    response = admin_client.post(
        "/admin/reviews/reviewpolicy/",
        {
            "action": "add_rows_for_all_rules",
            "_selected_action": [str(policy.pk)],
        },
    )
    assert response.status_code == 302
    settings = {s.rule_id: s for s in policy.rules.all()}
    assert set(settings) == set(RULES)
    assert settings["table.disallow-drop"].severity == "warning"  # kept, not overwritten
    for rule_id, setting in settings.items():
        if rule_id != "table.disallow-drop":
            # A rule whose default differs by engine keeps it: no one severity would do.
            severity = "default" if RULES[rule_id].severity_by_engine else RULES[rule_id].severity
            assert (setting.severity, setting.payload) == (severity, RULES[rule_id].payload)
    response = admin_client.get(f"/admin/reviews/reviewpolicy/{policy.pk}/change/")
    assert response.context["inline_admin_formsets"][0].formset.total_form_count() == len(RULES)


def test_a_policy_named_after_a_template_is_pre_filled_from_it(admin_client):
    raised = next((r for r in RULES.values() if r.strict_severity and r.strict_severity != r.severity), None)
    if raised is None:
        pytest.fail("no rule that strict raises")
    policy, _ = ReviewPolicy.objects.get_or_create(name="strict")  # 0002_templates creates it
    response = admin_client.get(f"/admin/reviews/reviewpolicy/{policy.pk}/change/")
    formset = response.context["inline_admin_formsets"][0].formset
    initial = {form.initial["rule_id"]: form.initial for form in formset.forms}
    assert initial[raised.id]["severity"] == raised.strict_severity
