"""Public rule pages: the catalogue, and one page per rule (linked from findings and the admin)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

import reviews.rules  # noqa: F401  (every family registers its rules on import)
from reviews.engine import ALWAYS_ERRORS, RULES, Rule

CATEGORIES = {
    "DES": "Destructive",
    "BC": "Backward compatibility",
    "LOCK": "Locking, rewrites and validation scans",
    "TX": "Transactions and file structure",
    "DML": "DML hygiene",
    "DESIGN": "Schema design and types",
    "NAME": "Naming",
    "MYSQL": "MySQL-specific",
    "SQLITE": "SQLite-specific",
    "SEC": "Security",
    "DIR": "Migration directory",
    "SYS": "System",
}
ENGINE_NAMES = {"postgres": "PostgreSQL", "mysql": "MySQL", "sqlite": "SQLite"}
BACKTICKS = re.compile(r"`([^`]+)`")


def _prose(text: str) -> SafeString:
    """The catalogue's `code` spans as <code>, everything else escaped."""
    return mark_safe(BACKTICKS.sub(r"<code>\1</code>", escape(text)))  # escaped first


@dataclass
class RuleView:
    rule: Rule

    @property
    def engines(self) -> list[str]:
        return [name for key, name in ENGINE_NAMES.items() if key in self.rule.engines]

    @property
    def category(self) -> str:
        return CATEGORIES.get(self.rule.category, self.rule.category)

    @property
    def summary(self) -> SafeString:
        return _prose(self.rule.summary)

    @property
    def why(self) -> SafeString:
        return _prose(self.rule.why)

    @property
    def instead(self) -> SafeString:
        return _prose(self.rule.instead)

    @property
    def opt_in(self) -> bool:
        return self.rule.severity == "disabled"

    @property
    def always_error(self) -> bool:
        return self.rule.id in ALWAYS_ERRORS

    @property
    def severity_by_engine(self) -> list[tuple[str, str]]:
        return [(ENGINE_NAMES.get(k, k), v) for k, v in sorted(self.rule.severity_by_engine.items())]

    @property
    def payload_json(self) -> str:
        return json.dumps(self.rule.payload, indent=2, sort_keys=True)

    @property
    def schema_json(self) -> str:
        return json.dumps(self.rule.schema, indent=2, sort_keys=True)


def rule_list(request: HttpRequest) -> HttpResponse:
    order = list(CATEGORIES)
    groups: dict[str, list[RuleView]] = {}
    for rule_obj in sorted(
        RULES.values(), key=lambda r: (order.index(r.category) if r.category in order else len(order), r.id)
    ):
        groups.setdefault(CATEGORIES.get(rule_obj.category, rule_obj.category), []).append(RuleView(rule_obj))
    return render(request, "reviews/rule_list.html", {"groups": groups, "count": len(RULES)})


def rule_detail(request: HttpRequest, rule_id: str) -> HttpResponse:
    rule_obj = RULES.get(rule_id)
    if rule_obj is None:
        raise Http404(f"no rule {rule_id}")
    return render(request, "reviews/rule_detail.html", {"r": RuleView(rule_obj)})
