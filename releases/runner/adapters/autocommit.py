"""Which statements each engine cannot run inside a transaction block: the adapters'
`needs_autocommit`, kept apart from the database drivers so that the review asks the runner's own
rules (reviews/engine/model.py, `runner_transaction`) without importing psycopg and PyMySQL, about
0.14 s in the middle of a `manage.py review`."""

from __future__ import annotations

import re
from collections.abc import Callable

from releases.runner.adapters.base import head, may_hold

# PostgreSQL refuses these inside a transaction block.
_POSTGRES_RE = re.compile(
    r"^(CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY"
    r"|DROP\s+INDEX\s+CONCURRENTLY"
    r"|REINDEX\b.*\bCONCURRENTLY\b"
    r"|VACUUM\b|ALTER\s+SYSTEM\b|CREATE\s+DATABASE\b|DROP\s+DATABASE\b"
    r"|CREATE\s+TABLESPACE\b|DROP\s+TABLESPACE\b"
    r"|ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b)",
    re.I | re.S,
)
_POSTGRES_WORDS = ("CONCURRENTLY", "VACUUM", "SYSTEM", "DATABASE", "TABLESPACE")  # each match holds one

# What SQLite ignores or refuses inside a transaction: VACUUM fails there, `PRAGMA foreign_keys` is
# silently a no-op (so a file that turns cascades on would run without them), and `journal_mode` cannot
# switch to or from WAL. A file holding one runs statement by statement, each outside a transaction.
_SQLITE_RE = re.compile(r"^(?:VACUUM\b|PRAGMA\s+(?:\w+\s*\.\s*)?(?:foreign_keys|journal_mode)\b)", re.I)
_SQLITE_WORDS = ("VACUUM", "PRAGMA")  # (each statement the pattern matches holds one)


def postgres(text: str) -> bool:
    return may_hold(text, 400, _POSTGRES_WORDS) and bool(_POSTGRES_RE.match(head(text, 400)))


def sqlite(text: str) -> bool:
    return may_hold(text, 40, _SQLITE_WORDS) and bool(_SQLITE_RE.match(head(text, 40)))


def never(text: str) -> bool:
    """MySQL: any statement runs in a transaction block (its DDL commits implicitly instead)."""
    return False


BY_ENGINE: dict[str, Callable[[str], bool]] = {"postgres": postgres, "sqlite": sqlite, "mysql": never}
