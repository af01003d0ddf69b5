"""The file model's facts as the locking rules read them: materialized views created in the file,
timeouts set, disabled, reset or ended, and the transaction Sluice's runner applies a file in."""

from __future__ import annotations

import pytest

from reviews.engine import Policy
from tests.reviews.rules.helpers import findings, flags

LOCK = "statement.require-lock-timeout"
STATEMENT = "statement.max-execution-time"
VALIDATE = "statement.validate-constraint-separate-transaction"
TIMEOUTS = "SET lock_timeout = '2s';\nSET statement_timeout = '5min';\n"
ALTER = "ALTER TABLE posts ADD COLUMN c int;\n"


def timeout_lines(sql: str, dialect: str = "postgres") -> dict[str, list[int]]:
    policy = Policy.from_rows("p", [(LOCK, "warning", {}), (STATEMENT, "warning", {})])
    return {rule: [f.line for f in findings(sql, dialect, rule, policy)] for rule in (LOCK, STATEMENT)}


# -- a materialized view created in the file is new ----------------------------------------------------


@pytest.mark.parametrize("create", [
    "CREATE MATERIALIZED VIEW post_stats AS SELECT post_id, count(*) AS n FROM comments GROUP BY post_id;\n",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS public.post_stats AS SELECT post_id FROM comments WITH NO DATA;\n",
])
def test_an_index_on_a_materialized_view_created_in_the_file_is_on_no_existing_table(create):
    index = "CREATE UNIQUE INDEX post_stats_post_id ON post_stats (post_id);\n"
    for rule in ("index.create-concurrently", "index.unique-data-dependent", LOCK):
        assert not flags(create + index, "postgres", rule), rule
    # one created elsewhere is an existing table
    [found] = findings(TIMEOUTS + index, "postgres", "index.create-concurrently")
    assert found.line == 3 and "on existing table post_stats" in found.message


# -- timeouts: zero and DEFAULT disable them, RESET and the end of a SET LOCAL's transaction undo them ---


@pytest.mark.parametrize("value", ["0", "'0'", "'0ms'", "'0 s'", "DEFAULT"])
@pytest.mark.parametrize("assign", ["=", "TO"])
def test_a_timeout_set_to_zero_or_default_is_not_set(value, assign):
    sql = (f"SET statement_timeout {assign} {value};\nSET SESSION lock_timeout {assign} {value};\n"
           "ALTER TABLE posts ADD COLUMN c int;\nUPDATE posts SET c = 0 WHERE c IS NULL;\n")
    assert timeout_lines(sql) == {LOCK: [3], STATEMENT: [3]}
    # a value that sets them (the pg_dump header sets them to 0, a file may set them back)
    assert timeout_lines(sql.replace(value, "'2s'")) == {LOCK: [], STATEMENT: []}


def test_zero_after_a_timeout_disables_it_again():
    sql = TIMEOUTS + ALTER + "SET lock_timeout = 0;\nSET statement_timeout = 0;\n" + ALTER
    assert timeout_lines(sql) == {LOCK: [6], STATEMENT: [6]}


@pytest.mark.parametrize(("reset", "lines"), [
    ("RESET ALL", {LOCK: [5], STATEMENT: [5]}),
    ("RESET lock_timeout", {LOCK: [5], STATEMENT: []}),
    ("RESET statement_timeout", {LOCK: [], STATEMENT: [5]}),
    ("RESET work_mem", {LOCK: [], STATEMENT: []}),
])
def test_reset_clears_a_timeout(reset, lines):
    assert timeout_lines(TIMEOUTS + ALTER + reset + ";\n" + ALTER) == lines


def test_set_local_counts_until_the_end_of_its_transaction():
    inside = "BEGIN;\nSET LOCAL lock_timeout = '2s';\nSET LOCAL statement_timeout = '1min';\n" + ALTER
    for end in ("COMMIT", "ROLLBACK", "END"):
        assert timeout_lines(inside + f"{end};\n" + ALTER) == {LOCK: [6], STATEMENT: [6]}, end
    # ROLLBACK TO SAVEPOINT does not end it
    assert timeout_lines(inside + "ROLLBACK TO SAVEPOINT s;\n" + ALTER + "COMMIT;\n") == {LOCK: [], STATEMENT: []}
    # a session-wide SET outlives the transaction; a SET LOCAL of 0 disables it only until then
    session = TIMEOUTS + "BEGIN;\nSET LOCAL lock_timeout = 0;\n" + ALTER + "COMMIT;\n" + ALTER
    assert timeout_lines(session) == {LOCK: [5], STATEMENT: []}
    # outside a BEGIN, SET LOCAL still counts (as before: the runner may run the file in one transaction)
    assert timeout_lines("SET LOCAL lock_timeout = '2s';\n" + ALTER)[LOCK] == []


def test_the_run_directives_count_for_the_whole_file():
    header = "-- sluice:lock-timeout 5s\n-- sluice:statement-timeout 30min\n\n"
    sql = header + "SET lock_timeout = 0;\nSET statement_timeout TO DEFAULT;\nRESET ALL;\n" + ALTER
    assert timeout_lines(sql) == {LOCK: [], STATEMENT: []}


@pytest.mark.parametrize("setting", [
    "SET SESSION max_execution_time = 0", "SET @@session.max_statement_time = 0.0", "SET max_statement_time = DEFAULT",
    "SET sql_mode = '', max_statement_time = 0",
    "SET STATEMENT max_statement_time = 60 FOR SELECT 1",  # MariaDB: for that statement alone
])
def test_mysql_statement_timeouts_of_zero_do_not_count(setting):
    sql = f"{setting};\nUPDATE t SET a = 1 WHERE b = 2;\n"
    assert timeout_lines(sql, "mysql")[STATEMENT] == [2]
    if "STATEMENT max" not in setting:
        assert timeout_lines(sql.replace("= 0", "= 30").replace("DEFAULT", "30"), "mysql")[STATEMENT] == []


# -- statement.max-execution-time on MySQL: no SELECT-only setting offered as the fix -------------------


def test_the_mysql_advice_names_what_bounds_ddl_and_dml():
    [found] = findings("ALTER TABLE t ADD COLUMN note text, ALGORITHM=INSTANT;", "mysql", STATEMENT,
                       Policy.from_rows("p", [(STATEMENT, "warning", {})]))
    assert found.message.startswith("ALTER TABLE on existing table t runs with no statement timeout:")
    assert "On MariaDB, set max_statement_time" in found.message
    assert "MySQL has no server-side timeout for DDL or DML" in found.message
    assert "max_execution_time limits only read-only SELECTs" in found.message
    assert "lock_wait_timeout" in found.message and "Set max_execution_time" not in found.message


# -- statement.validate-constraint-separate-transaction in the runner's transaction --------------------


ADD_AND_VALIDATE = ("ALTER TABLE orders ADD CONSTRAINT orders_total_pos CHECK (total >= 0) NOT VALID;\n"
                    "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_pos;\n")


def test_validate_in_the_file_that_added_it_not_valid_is_one_transaction_under_the_runner():
    [found] = findings(ADD_AND_VALIDATE, "postgres", VALIDATE)
    assert (found.line, found.column, found.severity) == (2, 20, "warning")
    assert "Sluice's runner applies this file as one transaction" in found.message
    assert "validate it in a later file, or mark this file -- sluice:transaction off" in found.message


@pytest.mark.parametrize("other", [
    "-- sluice:transaction off\n\n",  # each statement in a transaction of its own
    "CREATE INDEX CONCURRENTLY orders_a_idx ON orders (a);\n",  # needs autocommit: run statement by statement
    "BEGIN;\nCOMMIT;\n",  # its own transaction control: run statement by statement
])
def test_validate_is_fine_where_the_runner_does_not_apply_the_file_in_one_transaction(other):
    sql = other + ADD_AND_VALIDATE if other.startswith("--") else ADD_AND_VALIDATE + other
    assert not flags(sql, "postgres", VALIDATE)


def test_the_runners_transaction_is_asked_of_the_runners_own_adapter(monkeypatch):
    from releases.runner.adapters.autocommit import BY_ENGINE
    from releases.runner.adapters.postgres import PostgresAdapter

    assert flags(ADD_AND_VALIDATE + "ANALYZE orders;\n", "postgres", VALIDATE)
    # A runner whose adapter (and so the table of its tests, held to it in test_engine) runs ANALYZE in autocommit.
    analyze = staticmethod(lambda text: text.startswith("ANALYZE"))
    monkeypatch.setattr(PostgresAdapter, "needs_autocommit", analyze)
    monkeypatch.setitem(BY_ENGINE, "postgres", analyze)
    assert not flags(ADD_AND_VALIDATE + "ANALYZE orders;\n", "postgres", VALIDATE)
