"""statement.sqlite.pragma-in-transaction as Sluice's runner runs the file: the file model's
SAVEPOINTs, and the runner's own answer to whether it runs the pragma in autocommit."""

from __future__ import annotations

import pytest

from tests.reviews.rules.helpers import findings, flags

PRAGMA = "statement.sqlite.pragma-in-transaction"


@pytest.mark.parametrize(("sql", "line", "began"), [
    ("SAVEPOINT sp;\nPRAGMA foreign_keys=ON;\nRELEASE sp;\n", 2, 1),
    ("SAVEPOINT a;\nSAVEPOINT b;\nRELEASE b;\nPRAGMA foreign_keys=OFF;\nRELEASE SAVEPOINT a;\n", 4, 1),
    ("CREATE TABLE t (id int);\nSAVEPOINT sp;\nROLLBACK TO sp;\nPRAGMA main.foreign_keys(0);\nRELEASE sp;\n", 4, 2),
])
def test_a_savepoint_outside_begin_is_a_transaction(sql, line, began):
    [found] = findings(sql, "sqlite", PRAGMA)
    assert (found.line, found.severity) == (line, "error")
    assert f"inside the transaction the SAVEPOINT on line {began} began is silently ignored" in found.message
    assert "move it before SAVEPOINT" in found.message and "foreign_key_check before RELEASE" in found.message


@pytest.mark.parametrize("sql", [
    "SAVEPOINT sp;\nRELEASE sp;\nPRAGMA foreign_keys=ON;\n",  # released: the transaction is over
    "SAVEPOINT a;\nSAVEPOINT b;\nRELEASE a;\nPRAGMA foreign_keys=ON;\n",  # releasing a releases b too
    "SAVEPOINT sp;\nROLLBACK;\nPRAGMA foreign_keys=ON;\n",
    "PRAGMA foreign_keys=ON;\nDELETE FROM parent WHERE id = 1;\n",  # the runner runs it in autocommit
])
def test_a_pragma_outside_any_transaction_is_fine(sql):
    assert not flags(sql, "sqlite", PRAGMA)


def test_the_advice_is_what_sluices_runner_does():
    [found] = findings("BEGIN;\nPRAGMA foreign_keys = OFF;\nCOMMIT;", "sqlite", PRAGMA)
    assert found.message == (
        "PRAGMA foreign_keys=OFF inside the transaction begun on line 1 is silently ignored by SQLite: move it "
        "before BEGIN (Sluice's runner runs it there outside any transaction) and run PRAGMA foreign_key_check "
        "before COMMIT")


def test_a_runner_that_runs_the_pragma_in_a_transaction_makes_it_a_no_op_anywhere(monkeypatch):
    # The rule asks the runner's own test for SQLite, so it follows whatever the runner does with the pragma.
    from releases.runner.adapters.autocommit import BY_ENGINE
    from releases.runner.adapters.sqlite import SQLiteAdapter

    # (the table of the runner's tests, held to the adapter in test_engine)
    monkeypatch.setattr(SQLiteAdapter, "needs_autocommit", staticmethod(lambda text: False))
    monkeypatch.setitem(BY_ENGINE, "sqlite", lambda text: False)
    for sql in ("PRAGMA foreign_keys=ON;\nDELETE FROM parent WHERE id = 1;\n",
                "-- sluice:transaction off\n\nPRAGMA foreign_keys=ON;\n"):
        [found] = findings(sql, "sqlite", PRAGMA)
        assert "inside the transaction Sluice's runner opens around it" in found.message
        assert "leave foreign keys to the connection's settings" in found.message
    [found] = findings("BEGIN;\nPRAGMA foreign_keys=OFF;\nCOMMIT;\n", "sqlite", PRAGMA)
    assert "begun on line 1" in found.message and "move it before" not in found.message
