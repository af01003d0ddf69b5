"""The registry against the contract: every id of ../shared/review-rules.md, with its engines and
default severity; every E/W/I rule implemented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reviews.engine import RULES, Policy
from reviews.engine.registry import ENGINE_LETTERS, SEVERITY_OF_LETTER
from tests.helpers import missing

CATALOGUE = Path(__file__).resolve().parents[3] / "shared" / "review-rules.md"


def expand(cell: str) -> list[str]:
    """'table.comment / column.comment' → both; 'naming.index.idx / .uk' → naming.index.uk; '*.disallow-set-charset'
    → table. and column.; 'x.auto-increment-must-integer / -must-unsigned' → x.auto-increment-must-unsigned."""
    parts = [p.strip().strip("`") for p in cell.split("/")]
    ids = [parts[0]]
    for part in parts[1:]:
        if part.startswith("."):
            ids.append(parts[0].rsplit(".", 1)[0] + part)
        elif part.startswith("-"):
            ids.append(parts[0].rsplit("-must-", 1)[0] + part)
        elif part.startswith("*."):
            ids += ["table" + part[1:], "column" + part[1:]]
        else:
            ids.append(part)
    return ids


def catalogue() -> list[tuple[str, str, str]]:
    """(id, engine letters, severity cell) of every row."""
    if not CATALOGUE.exists():
        missing(f"{CATALOGUE} not found")
    rows = []
    for line in CATALOGUE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not re.match(r"^[a-z*]", cells[0]) or cells[0] == "id":
            continue
        ids = expand(cells[0])
        severities = [part.strip() for part in cells[2].split("/")]  # "W / off": one per grouped id
        for position, rule_id in enumerate(ids):
            severity = severities[position] if len(severities) == len(ids) else cells[2]
            rows.append((rule_id, cells[1], severity))
    return rows


def test_every_catalogue_id_is_registered():
    missing = [rule_id for rule_id, _, _ in catalogue() if rule_id not in RULES]
    assert missing == []


def test_no_rule_outside_the_catalogue():
    known = {rule_id for rule_id, _, _ in catalogue()}
    assert sorted(set(RULES) - known) == []


def test_engines_and_default_severities_match_the_catalogue():
    wrong = []
    for rule_id, engines, severity in catalogue():
        rule = RULES.get(rule_id)
        if rule is None:
            continue
        letters = set(re.sub(r"\(.*?\)", "", engines).replace("all", "PMS"))
        expected_engines = {ENGINE_LETTERS[c] for c in letters if c in ENGINE_LETTERS}
        if not expected_engines <= rule.engines:
            wrong.append(f"{rule_id}: engines {sorted(rule.engines)}, catalogue {engines}")
        first = severity.split()[0].split("/")[0].strip()
        expected = SEVERITY_OF_LETTER.get(first)
        if expected and rule.severity != expected and expected not in rule.severity_by_engine.values():
            wrong.append(f"{rule_id}: severity {rule.severity}, catalogue {severity}")
    assert wrong == []


def test_every_rule_with_a_default_severity_is_implemented_or_emitted_by_the_engine():
    engine_emitted = {"system.syntax-error", "system.encoding-error", "system.empty-file", "system.parse-unsupported",
                      "system.invalid-ignore-directive", "system.client-command"}
    # Decided by the check API against the project's latest release (reviews/api.py history_findings).
    release_checks = {"migration.non-linear", "migration.modified-history"}
    not_implemented = [
        r.id for r in RULES.values()
        if r.severity != "disabled" and not r.implemented and r.id not in engine_emitted | release_checks
    ]
    assert not_implemented == []


def test_every_rule_explains_itself():
    thin = [r.id for r in RULES.values() if not r.summary or (r.implemented and not (r.why and r.instead))]
    assert thin == []


def test_recommended_enables_exactly_the_e_w_i_rules():
    policy = Policy.recommended()
    for rule in RULES.values():
        assert (policy.severity(rule.id) != "disabled") == (rule.severity != "disabled"), rule.id


@pytest.mark.parametrize("rule_id, payload", [
    ("naming.table", {"format": "["}),
    ("naming.index.idx", {"format": "^ix_({{table}}$"}),
    ("table.drop-naming-convention", {"format": "a(b"}),
])
def test_a_payload_pattern_that_does_not_compile_is_refused(rule_id, payload):
    """A bad regex would make the rule find nothing, silently: it is refused where the policy is made."""
    with pytest.raises(ValueError, match=f"{rule_id}: bad payload: format: .* is not a valid regular expression"):
        Policy.from_rows("team", [(rule_id, "error", payload)])
    Policy.from_rows("team", [(rule_id, "error", {"format": "^ok_{{table}}$" if "idx" in rule_id else "^ok$"})])



def test_strict_raises_the_mysql_locking_warnings_as_it_raises_postgresql_s():
    """The catalogue: `strict` raises W to E where the rule is about locking; MySQL's ALGORITHM=/LOCK=
    rules and validated constraints are its counterparts of PostgreSQL's CONCURRENTLY rules."""
    strict = Policy.strict()
    for rule_id in ("statement.require-algorithm-option", "statement.require-lock-option",
                    "constraint.mysql.add-validated-constraint", "index.drop-concurrently"):
        assert strict.severity(rule_id, "mysql" if "concurrently" not in rule_id else "postgres") == "error", rule_id
