"""Reviewing a snippet the way the rule tests need it."""

from __future__ import annotations

from reviews.engine import Policy, review_file


def findings(sql: str, dialect: str, rule: str | None = None, policy: Policy | None = None) -> list:
    """Active (not suppressed) findings of one file, optionally of one rule."""
    review = review_file("0001_test.sql", sql, dialect, policy or Policy.everything())
    return [f for f in review.findings if not f.suppressed and (rule is None or f.rule == rule)]


def flags(sql: str, dialect: str, rule: str) -> bool:
    return bool(findings(sql, dialect, rule))
