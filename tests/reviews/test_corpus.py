"""The review engine on the real-world corpus (`<repo>/../shared/corpus`, see its README).

- Every file (PostgreSQL migrations, dumps and regression SQL; MySQL migrations and dumps) is
  reviewed with every rule enabled without an "internal error while reviewing" finding and
  without a rule raising (the engine logs and swallows that).
- In the PostgreSQL migrations and dumps, no statement that PostgreSQL's own grammar accepts
  (`pglast.parser.parse_sql`, and for a PL/pgSQL routine or DO block `parse_plpgsql`) is reported as
  `system.syntax-error`.

The whole corpus is used (about 4,700 files), not a sample. Without the corpus the tests skip,
except with CI=true, where that is a failure.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reviews.engine import Policy, review_file
from reviews.splitter import split
from tests.helpers import missing

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
INTERNAL = "internal error while reviewing"
PARTS = {
    "postgres/migrations": "postgres",
    "postgres/dumps": "postgres",
    "postgres/regress": "postgres",
    "mysql/migrations": "mysql",
    "mysql/dumps": "mysql",
}
JUDGED = ("postgres/migrations", "postgres/dumps")  # regress holds deliberately invalid SQL


def files_of(part: str) -> list[Path]:
    folder = CORPUS / part
    if not folder.is_dir():
        missing(f"the SQL corpus is missing: {folder} (see ../shared/corpus/README.md)")
    # Regular files only: a few directories are named *.sql; Synapse keeps PostgreSQL-only
    # deltas as *.sql.postgres.
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files, f"no files in {folder}"
    return files


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        self.messages.append(f"{record.getMessage()}: {type(exc).__name__}: {exc}" if exc else record.getMessage())


def _text(data: bytes) -> str:
    """The text the engine reviews (see core._decode)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        text = data.decode("utf-8", errors="replace")
    text = text.replace("\x00", " ")
    return text[1:] if text.startswith("\ufeff") else text


def _excerpt(text: str, limit: int = 2000) -> str:  # as core._excerpt: what Finding.statement holds
    return text if len(text) <= limit else text[:limit] + " …"


@pytest.mark.parametrize("part", list(PARTS))
def test_corpus_reviews_without_internal_errors(part: str) -> None:
    import pglast

    dialect = PARTS[part]
    policy = Policy.everything()
    handler = _Failures()
    logger = logging.getLogger("reviews.engine.core")
    logger.addHandler(handler)
    internal: list[str] = []
    false_syntax: list[str] = []
    rule_failures: list[str] = []
    statements = 0
    try:
        for path in files_of(part):
            data = path.read_bytes()
            name = str(path.relative_to(CORPUS))
            before = len(handler.messages)
            review = review_file(name, data, dialect, policy)
            statements += review.statements
            rule_failures += [f"{name}: {m}" for m in handler.messages[before:]]
            internal += [f"{name}: {f.message}" for f in review.findings if INTERNAL in f.message]
            if part not in JUDGED:
                continue
            reported = {f.statement for f in review.findings if f.rule == "system.syntax-error"}
            if not reported:
                continue
            for statement in split(_text(data), dialect):
                if _excerpt(statement.text) not in reported:
                    continue
                try:
                    pglast.parser.parse_sql(statement.text)
                    pglast.parser.parse_plpgsql_json(statement.text)  # (a routine's body is its grammar too)
                except pglast.parser.ParseError:
                    continue
                false_syntax.append(f"{name}:{statement.line}: {statement.text[:200]!r}")
    finally:
        logger.removeHandler(handler)
    assert statements > 0
    assert not internal, f"{len(internal)} file(s) made the engine fail:\n" + "\n".join(internal[:20])
    assert not rule_failures, f"{len(rule_failures)} rule failure(s):\n" + "\n".join(rule_failures[:20])
    assert not false_syntax, (f"{len(false_syntax)} statement(s) PostgreSQL accepts reported as syntax errors:\n"
                              + "\n".join(false_syntax[:20]))
