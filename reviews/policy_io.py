"""Review policies between the control database, YAML files and the engine.

A stored policy is a list of RuleSetting rows laid over a base: the template of the same name
for `recommended` and `strict`, the catalogue defaults (= `recommended`) for any other name. So
the template rows need not be materialised: a `strict` row with no settings *is* the template,
and a rule added to the code later takes its template severity without a data migration. Rows
are written only where someone chose otherwise (the admin, `policy import`) or asked for them
(`ensure_templates(rows=True)`). A row's severity `default` leaves it to the rule (its catalogue
default, per engine): what listing every rule writes for a rule whose default differs by engine.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from django.db import transaction

from reviews.engine import ALWAYS_ERRORS, RULES, TEMPLATES, Policy, check_setting
from reviews.engine.policy import Setting
from reviews.models import DEFAULT_SEVERITY, ReviewPolicy, RuleSetting

TEMPLATE_DESCRIPTIONS = {
    "recommended": "Every rule whose catalogue default is error, warning or info, at that severity.",
    "strict": "recommended, with warnings about data loss and locking raised to errors.",
}
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+\Z")
_NAME_LENGTH = ReviewPolicy._meta.get_field("name").max_length
# A policy file, and the document it holds once its aliases are expanded (characters and values):
# every rule listed with its payload is some 20 KB; a few aliases of a long string could otherwise
# store gigabytes of payload ("billion laughs").
MAX_POLICY_SIZE = 1_000_000


class PolicyFileError(ValueError):
    """A policy file that cannot be imported; nothing was saved."""


def base_policy(name: str) -> Policy:
    return Policy.template(name) if name in TEMPLATES else Policy.recommended()


def policy_from_model(policy: ReviewPolicy) -> Policy:
    """The engine's policy for a stored one; ValueError names a stored row that is no longer valid
    (a rule id the code no longer knows, a payload its schema rejects). A row of a rule that is always an
    error (ALWAYS_ERRORS: refused since, but perhaps stored before) changes nothing and is passed over."""
    stored = {s.rule_id: check_row(s.rule_id, s.severity, s.payload or {}) for s in policy.rules.all()
              if s.rule_id not in ALWAYS_ERRORS}
    return Policy(policy.name, {**base_policy(policy.name).settings, **stored})


def check_row(rule_id: str, severity: str, payload: dict | None) -> Setting:
    """`check_setting` for a RuleSetting row, whose severity may also be `default` (no override).
    A whole number where the schema asks for an integer (JSON schema takes 1.0) comes back an int."""
    setting = check_setting(rule_id, "error" if severity == DEFAULT_SEVERITY else severity, payload)
    properties = RULES[rule_id].schema.get("properties", {})
    payload = {key: int(value) if isinstance(value, float) and properties.get(key, {}).get("type") == "integer"
               else value for key, value in setting.payload.items()}
    return Setting(None if severity == DEFAULT_SEVERITY else setting.severity, payload)


def row_severity(policy: Policy, rule_id: str) -> str:
    """What a row must hold for the policy's severity of a rule in every engine: `default` where the
    policy leaves it to a rule whose default differs by engine (no one severity would do)."""
    setting = policy.settings.get(rule_id)
    if (setting is None or setting.severity is None) and RULES[rule_id].severity_by_engine:
        return DEFAULT_SEVERITY
    return policy.severity(rule_id)


def fallback_row() -> ReviewPolicy | None:
    """The policy of an environment without one, in a project without a default: the stored
    `recommended` (as the admin may have tuned it); None: the built-in template."""
    return ReviewPolicy.objects.filter(name="recommended").first()


# -- export ----------------------------------------------------------------------------------------


def export_policy(name: str, *, all_rules: bool = False) -> dict[str, Any]:
    """The YAML document of a policy: every rule whose setting differs from the catalogue default
    or from the policy's base template (so that it reads the same when imported under any name),
    or every rule with `all_rules`. LookupError when no such policy exists."""
    stored = ReviewPolicy.objects.filter(name=name).first()
    if stored is None and name not in TEMPLATES:
        raise LookupError(name)
    engine = policy_from_model(stored) if stored is not None else base_policy(name)
    base = base_policy(name)
    rows = []
    for rule_id, _, payload in engine.as_rows():
        rule = RULES[rule_id]
        # Per engine too: a stored "warning" for a rule whose MySQL default is "error" differs there.
        differs = payload != rule.payload or payload != base.payload(rule_id) or any(
            engine.severity(rule_id, dialect) != rule.default_severity(dialect)
            or engine.severity(rule_id, dialect) != base.severity(rule_id, dialect)
            for dialect in (None, *rule.severity_by_engine))
        if all_rules or differs:
            rows.append({"id": rule_id, "severity": row_severity(engine, rule_id), "payload": dict(payload)})
    description = stored.description if stored is not None else TEMPLATE_DESCRIPTIONS.get(name, "")
    return {"name": name, "description": description, "rules": rows}


def dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


# -- import ----------------------------------------------------------------------------------------


def parse_policy_file(text: str, *, name: str | None = None) -> tuple[str, str, dict[str, Setting]]:
    """(name, description, settings) from a policy YAML file, every row validated with
    `check_setting`; PolicyFileError lists every problem, each naming its rule."""
    if len(text) > MAX_POLICY_SIZE:
        raise PolicyFileError(f"the file is larger than {MAX_POLICY_SIZE} bytes")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"not valid YAML: {exc}") from None
    if _expanded_size(document, MAX_POLICY_SIZE) > MAX_POLICY_SIZE:
        raise PolicyFileError(f"the file is too large once its aliases are expanded (over {MAX_POLICY_SIZE} "
                              "characters and values)")
    if not isinstance(document, dict):
        raise PolicyFileError("expected a mapping with name, description and rules")
    name = name or document.get("name")
    if not isinstance(name, str) or not _SLUG.match(name):
        raise PolicyFileError(f"the policy name must be a slug (letters, digits, - and _), not {name!r}")
    if len(name) > _NAME_LENGTH:
        raise PolicyFileError(f"the policy name must be at most {_NAME_LENGTH} characters, not {len(name)}")
    description = document.get("description") or ""
    if not isinstance(description, str):
        raise PolicyFileError("description must be a string")
    rows = document.get("rules") or []
    if not isinstance(rows, list):
        raise PolicyFileError("rules must be a list of {id, severity, payload}")
    problems: list[str] = []
    settings: dict[str, Setting] = {}
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            problems.append(f"rules[{number}]: expected a mapping with id, severity and payload")
            continue
        rule_id = row["id"]
        if rule_id in settings:
            problems.append(f"{rule_id}: listed twice")
            continue
        unknown_keys = set(row) - {"id", "severity", "payload"}
        if unknown_keys:
            problems.append(f"{rule_id}: unknown key(s) {', '.join(sorted(map(str, unknown_keys)))}")
            continue
        payload = row.get("payload")
        payload = {} if payload is None else payload
        if not isinstance(payload, dict) or not all(isinstance(key, str) for key in payload):
            # (check_setting would take [] or 0 for {}, and fail on a key that is not a string)
            problems.append(f"{rule_id}: the payload must be a mapping of names to values")
            continue
        try:
            settings[rule_id] = check_row(rule_id, row.get("severity", ""), payload)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise PolicyFileError("\n".join(problems))
    return name, description, settings


def _expanded_size(document: Any, limit: int) -> int:
    """The document's characters and values, each alias counted as a copy of what it names; the
    count stops past `limit` (an alias may name its own parent: the walk would never end)."""
    size, stack = 1, [document]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item)
            continue
        children = [*item, *item.values()] if isinstance(item, dict) else item if isinstance(item, list) else []
        size += len(children)
        if size <= limit:
            stack.extend(children)
    return size


def import_policy(text: str, *, replace: bool = False, name: str | None = None) -> tuple[ReviewPolicy, bool]:
    """Create or update a policy from a YAML file, all or nothing. Without `replace`, the file's
    rows are merged over the stored ones; with it, stored rows the file does not list go."""
    name, description, settings = parse_policy_file(text, name=name)
    with transaction.atomic():
        policy, created = ReviewPolicy.objects.get_or_create(name=name, defaults={"description": description})
        if not created and description and policy.description != description:
            policy.description = description
            policy.save(update_fields=["description", "updated_at"])
        if replace:
            policy.rules.exclude(rule_id__in=list(settings)).delete()
        for rule_id, setting in settings.items():
            RuleSetting.objects.update_or_create(
                policy=policy, rule_id=rule_id,
                defaults={"severity": setting.severity or DEFAULT_SEVERITY, "payload": setting.payload},
            )
    return policy, created


# -- templates -------------------------------------------------------------------------------------


def ensure_templates(*, rows: bool = False) -> list[ReviewPolicy]:
    """Create the `recommended` and `strict` policies if missing (idempotent). With `rows`, also
    write a RuleSetting for each of the template's own settings that has none yet (for an admin
    who wants to see them row by row); existing rows, maybe edited in the admin, stay as they are."""
    policies = []
    with transaction.atomic():
        for name in TEMPLATES:
            policy, _ = ReviewPolicy.objects.get_or_create(
                name=name, defaults={"description": TEMPLATE_DESCRIPTIONS[name]})
            if not policy.description:
                policy.description = TEMPLATE_DESCRIPTIONS[name]
                policy.save(update_fields=["description", "updated_at"])
            if rows:
                for rule_id, setting in Policy.template(name).settings.items():
                    RuleSetting.objects.get_or_create(
                        policy=policy, rule_id=rule_id,
                        defaults={"severity": setting.severity or RULES[rule_id].severity,
                                  "payload": setting.payload},
                    )
            policies.append(policy)
    return policies
