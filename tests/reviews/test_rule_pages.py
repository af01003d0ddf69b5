"""/rules/ and /rules/<id>/: public documentation of every registered rule."""

from __future__ import annotations

import pytest
from django.utils.html import escape

import reviews.rules  # noqa: F401
from reviews.engine import RULES, Policy, review_files


def test_the_list_shows_and_links_every_rule(client):
    response = client.get("/rules/")
    assert response.status_code == 200
    html = response.content.decode()
    for rule_id in RULES:
        assert f'<a href="/rules/{rule_id}/"><code>{rule_id}</code></a>' in html


def test_the_list_groups_rules_by_category(client):
    html = client.get("/rules/").content.decode()
    assert "<h2>System</h2>" in html
    assert "<h2>Destructive</h2>" in html


def test_the_list_marks_opt_in_rules(client):
    html = client.get("/rules/").content.decode()
    opt_in = [r for r in RULES.values() if r.severity == "disabled"]
    if not opt_in:
        pytest.fail("no opt-in rule registered")
    assert "opt-in</span>" in html.split(opt_in[0].id, 2)[2].split("</tr>")[0]


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_has_a_page(client, rule_id):
    rule_obj = RULES[rule_id]
    response = client.get(f"/rules/{rule_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1><code>{rule_id}</code></h1>" in html
    text = html.replace("<code>", "").replace("</code>", "")
    assert escape(rule_obj.summary.replace("`", "")) in text


def test_a_rule_page_shows_why_instead_example_and_payload(client):
    rule_obj = RULES["table.disallow-drop"]
    html = client.get("/rules/table.disallow-drop/").content.decode()
    for heading in ("What it flags", "Why", "Instead", "Example"):
        assert f"<h2>{heading}</h2>" in html
    assert "DROP TABLE" in html
    assert rule_obj.engines and "PostgreSQL" in html


def test_a_rule_page_shows_payload_defaults_and_schema(client):
    with_payload = next((r for r in RULES.values() if r.payload and r.schema), None)
    if with_payload is None:
        pytest.fail("no rule with a payload registered")
    html = client.get(f"/rules/{with_payload.id}/").content.decode()
    for key in with_payload.payload:
        assert f"&quot;{key}&quot;" in html
    assert "JSON schema" in html


def test_an_unknown_rule_is_404(client):
    assert client.get("/rules/no.such-rule/").status_code == 404


@pytest.mark.parametrize("rule_id", sorted(r.id for r in RULES.values() if r.example))
def test_the_example_on_a_rule_page_is_flagged_by_that_rule(rule_id):
    rule_obj = RULES[rule_id]
    flagged_on = [
        dialect for dialect in sorted(rule_obj.engines)
        if rule_id in {f.rule for f in review_files([("migrations/V1__x.sql", rule_obj.example)], dialect,
                                                     Policy.everything()).findings}
    ]
    assert flagged_on, f"{rule_id}: its example {rule_obj.example!r} is flagged on none of its engines"


def test_every_implemented_rule_page_has_an_example():
    assert [r.id for r in RULES.values() if r.implemented and not r.example] == []


def test_the_pages_of_the_rules_no_policy_turns_down_say_so(client):
    for rule_id in ("system.syntax-error", "system.encoding-error", "system.empty-file"):
        assert "(always: no policy changes it)" in client.get(f"/rules/{rule_id}/").content.decode()
    assert "always: no policy" not in client.get("/rules/system.parse-unsupported/").content.decode()
