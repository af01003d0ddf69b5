"""The runner library on real PostgreSQL, MariaDB and SQLite targets, in-process."""

from __future__ import annotations

import threading
import time

import psycopg
import pymysql
import pytest

from releases.loader import load_dir
from releases.runner import ApplyError, ApplyOptions, PlanError, apply, history, repair
from releases.runner.core import LockTimeout
from tests.helpers import history_rows, query, table_exists

INIT = "CREATE TABLE customers (id integer PRIMARY KEY, name varchar(100));\n"
SEED = "INSERT INTO customers (id, name) VALUES (1, 'a;b'), (2, '50%');\nUPDATE customers SET name = 'c' WHERE id = 2;\n"


def run(url, migrations, **options):
    return apply(url, load_dir(migrations.path), ApplyOptions(**options))


def test_it_applies_each_file_once_and_skips_on_the_rerun(any_url, migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_seed_dml.sql", SEED)
    first = run(any_url, migrations)
    assert [(o.version, o.action) for o in first.outcomes] == [("0001", "applied"), ("0002", "applied")]
    assert first.outcomes[1].rows == 3  # two inserted, one updated
    assert query(any_url, "SELECT id, name FROM customers ORDER BY id") == [(1, "a;b"), (2, "c")]

    second = run(any_url, migrations)
    assert [(o.action, o.reason) for o in second.outcomes] == [("skipped", "already applied")] * 2
    assert history_rows(any_url) == {"0001": ("applied", 1, 1), "0002": ("applied", 2, 2)}
    rows = history(any_url)
    assert [(r.kind, r.description) for r in rows] == [("ddl", "init"), ("dml", "seed_dml")]
    assert rows[0].checksum.startswith("v1:") and rows[0].applied_at.tzinfo is not None


def test_a_later_file_is_applied_on_the_next_run(any_url, migrations):
    migrations.write("0001_init.sql", INIT)
    run(any_url, migrations)
    migrations.write("0002_more.sql", "ALTER TABLE customers ADD COLUMN email varchar(200);")
    report = run(any_url, migrations)
    assert [o.action for o in report.outcomes] == ["skipped", "applied"]


def test_an_edited_applied_file_is_refused_before_any_sql_runs(any_url, migrations):
    migrations.write("0001_init.sql", INIT)
    run(any_url, migrations)
    migrations.write("0001_init.sql", INIT.replace("varchar(100)", "varchar(200)"))
    migrations.write("0002_more.sql", "CREATE TABLE orders (id integer PRIMARY KEY);")
    with pytest.raises(PlanError) as info:
        run(any_url, migrations)
    assert "0001_init.sql: modified after apply" in str(info.value)
    assert not table_exists(any_url, "orders")
    assert set(history_rows(any_url)) == {"0001"}


def test_a_crlf_or_bom_only_change_is_not_a_modification(any_url, migrations):
    migrations.write("0001_init.sql", INIT)
    run(any_url, migrations)
    migrations.write("0001_init.sql", "\ufeff" + INIT.replace("\n", "\r\n"))
    report = run(any_url, migrations)
    assert [(o.action, o.reason) for o in report.outcomes] == [("skipped", "already applied")]


def test_an_out_of_order_file_is_refused_and_listed_unless_allowed(any_url, migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0003_c.sql", "CREATE TABLE c (id integer PRIMARY KEY);")
    run(any_url, migrations)
    migrations.write("0002_b.sql", "CREATE TABLE b (id integer PRIMARY KEY);")
    with pytest.raises(PlanError) as info:
        run(any_url, migrations)
    assert "out-of-order: 1 pending file(s) older than the newest applied version 3: 0002_b.sql" in str(info.value)
    assert not table_exists(any_url, "b")

    report = run(any_url, migrations, allow_out_of_order=True)
    assert [(o.version, o.action) for o in report.outcomes if o.action == "applied"] == [("0002", "applied")]
    assert table_exists(any_url, "b")


@pytest.mark.parametrize("engine", ["pg_url", "sqlite_url"])
def test_a_failing_transactional_file_leaves_nothing_behind(engine, request, migrations):
    url = request.getfixturevalue(engine)
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_broken.sql",
                     "CREATE TABLE orders (id integer PRIMARY KEY);\n\nINSERT INTO nowhere (id)\n  VALUES (1);\n")
    with pytest.raises(ApplyError) as info:
        run(url, migrations)
    error = info.value
    assert (error.file, error.line, error.index, error.total) == ("0002_broken.sql", 3, 2, 2)
    assert error.statement == "INSERT INTO nowhere (id)\n  VALUES (1)"
    assert "nowhere" in error.message
    assert str(error).startswith(error.database + ": 0002_broken.sql:3: statement 2 of 2 failed: ")
    assert "rolled back" in str(error)
    assert not table_exists(url, "orders")
    assert history_rows(url) == {"0001": ("applied", 1, 1)}


def test_postgres_error_line_points_inside_a_multiline_statement(pg_url, migrations):
    migrations.write("0001_bad.sql", "SELECT 1;\nSELECT\n  1,\n  nosuchcolumn\nFROM (SELECT 1) AS t;\n")
    with pytest.raises(ApplyError) as info:
        run(pg_url, migrations)
    assert info.value.line == 4
    assert "nosuchcolumn" in info.value.message and "SQLSTATE 42703" in info.value.message


def test_mysql_failure_mid_file_is_partial_then_each_repair_action(mysql_url, migrations):
    migrations.write("0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\nINSERT INTO a (id) VALUES (1);\n"
                                    "INSERT INTO missing_table (id) VALUES (1);\nINSERT INTO a (id) VALUES (2);\n")
    migrations.write("0002_b.sql", "CREATE TABLE b (id int PRIMARY KEY);")
    with pytest.raises(ApplyError) as info:
        run(mysql_url, migrations)
    assert (info.value.line, info.value.index) == (3, 3)
    assert "History: partial, 2 of 4 statements done" in str(info.value)
    assert history_rows(mysql_url) == {"0001": ("partial", 2, 4)}
    assert not table_exists(mysql_url, "b")

    # The rerun refuses, naming file and statement, and runs nothing.
    with pytest.raises(PlanError) as refused:
        run(mysql_url, migrations)
    assert "0001_a.sql: partial: 2 of 4 statements done; statement 3 at line 3 failed: " in str(refused.value)
    assert "doesn't exist" in str(refused.value)
    assert not table_exists(mysql_url, "b")

    # resume: fix the cause, then only statements 3 and 4 run (statement 2's row is not inserted twice).
    query(mysql_url, "CREATE TABLE missing_table (id int PRIMARY KEY)")
    files = load_dir(migrations.path)
    message = repair(mysql_url, "0001", "resume", files)
    assert "resumed at statement 3" in message
    assert query(mysql_url, "SELECT id FROM a ORDER BY id") == [(1,), (2,)]
    assert history_rows(mysql_url) == {"0001": ("applied", 4, 4)}
    run(mysql_url, migrations)
    assert table_exists(mysql_url, "b")


def test_mark_applied_and_mark_pending(mysql_url, migrations):
    migrations.write("0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\nINSERT INTO nope (id) VALUES (1);\n")
    with pytest.raises(ApplyError):
        run(mysql_url, migrations)
    assert history_rows(mysql_url) == {"0001": ("partial", 1, 2)}
    files = load_dir(migrations.path)

    assert "marked applied (was partial, 1 of 2 statements done)" in repair(mysql_url, "0001", "mark-applied", files)
    assert history_rows(mysql_url) == {"0001": ("applied", 2, 2)}
    assert [o.action for o in run(mysql_url, migrations).outcomes] == ["skipped"]

    assert "marked pending" in repair(mysql_url, "0001", "mark-pending")
    assert history_rows(mysql_url) == {}
    with pytest.raises(PlanError, match="cannot be resumed: no history row"):
        repair(mysql_url, "0001", "resume", files)


def test_a_first_statement_that_fails_cleanly_leaves_no_record(mysql_url, migrations):
    migrations.write("0001_a.sql", "INSERT INTO nope (id) VALUES (1);\nCREATE TABLE a (id int PRIMARY KEY);\n")
    with pytest.raises(ApplyError) as info:
        run(mysql_url, migrations)
    assert "no history row was kept" in str(info.value)
    assert history_rows(mysql_url) == {}


def test_several_concurrent_index_builds_in_one_postgres_file(pg_url, migrations):
    migrations.write("0001_init.sql", INIT + "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer);\n")
    migrations.write(
        "0002_indexes.sql",
        "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id);\n"
        "CREATE INDEX CONCURRENTLY idx_customers_name ON customers (name);\n"
        "CREATE UNIQUE INDEX CONCURRENTLY uk_customers_id_name ON customers (id, name);\n",
    )
    report = run(pg_url, migrations)
    assert [o.action for o in report.outcomes] == ["applied", "applied"]
    valid = query(pg_url, "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                          "WHERE c.relname LIKE 'idx_%%' OR c.relname LIKE 'uk_%%' ORDER BY 1")
    assert valid == [("idx_customers_name", True), ("idx_orders_customer", True), ("uk_customers_id_name", True)]
    assert history_rows(pg_url)["0002"] == ("applied", 3, 3)


def test_a_files_own_transaction_is_honoured(pg_url, migrations):
    migrations.write("0001_tx.sql", "BEGIN;\nCREATE TABLE a (id integer);\nCOMMIT;\nCREATE TABLE b (id integer);\n")
    run(pg_url, migrations)
    assert table_exists(pg_url, "a") and table_exists(pg_url, "b")
    assert history_rows(pg_url) == {"0001": ("applied", 4, 4)}


def test_a_failure_inside_the_files_own_transaction_rolls_progress_back_with_it(pg_url, migrations):
    migrations.write("0001_tx.sql", "CREATE TABLE a (id integer);\nBEGIN;\nCREATE TABLE b (id integer);\n"
                                    "INSERT INTO nope VALUES (1);\nCOMMIT;\n")
    with pytest.raises(ApplyError):
        run(pg_url, migrations)
    # Statement 1 is done; the file's transaction (statements 2-4) rolled back with its progress.
    assert history_rows(pg_url) == {"0001": ("partial", 1, 5)}
    assert table_exists(pg_url, "a") and not table_exists(pg_url, "b")


def _hold_lock(url: str, ready: threading.Event, release: threading.Event) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # the write lock: SQLite locks the whole database
        ready.set()
        release.wait(30)
        conn.execute("ROLLBACK")
        conn.close()
    elif url.startswith("postgresql"):
        conn = psycopg.connect(url)
        conn.execute("SELECT * FROM customers")  # ACCESS SHARE, held until the transaction ends
        ready.set()
        release.wait(30)
        conn.rollback()
        conn.close()
    else:
        conn = pymysql.connect(host="127.0.0.1", user="root", database=url.rsplit("/", 1)[1])
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute("SELECT * FROM customers")  # metadata lock until the transaction ends
            ready.set()
            release.wait(30)
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("engine", ["pg_url", "mysql_url", "sqlite_url"])
def test_lock_timeout_fails_fast_rolled_back_and_retryable(engine, request, migrations):
    url = request.getfixturevalue(engine)
    migrations.write("0001_init.sql", INIT)
    run(url, migrations)
    migrations.write("0002_alter.sql", "-- sluice:lock-timeout 1s\nALTER TABLE customers ADD COLUMN email varchar(200);\n")
    ready, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(url, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        started = time.monotonic()
        # SQLite's lock is the whole database: the file cannot even begin (LockTimeout).
        with pytest.raises(LockTimeout if engine == "sqlite_url" else ApplyError) as info:
            run(url, migrations)
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()
    assert info.value.retryable
    assert "retryable" in str(info.value)
    assert history_rows(url) == {"0001": ("applied", 1, 1)}
    # Once the lock is gone, simply running again applies it.
    assert [o.action for o in run(url, migrations).outcomes] == ["skipped", "applied"]


def test_a_waiter_that_gives_up_says_who_holds_the_lock(pg_url, migrations):
    migrations.write("0001_init.sql", INIT)
    with psycopg.connect(pg_url, autocommit=True, application_name="someone else") as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (0x534C4349, 1))
        pid = other.info.backend_pid
        with pytest.raises(LockTimeout) as info:
            run(pg_url, migrations, lock_wait_seconds=0.5)
    assert f"held by pid {pid} (someone else" in str(info.value)
    assert history_rows(pg_url) == {}


def test_mysql_waiter_says_who_holds_the_lock(mysql_url, migrations):
    migrations.write("0001_init.sql", INIT)
    name = mysql_url.rsplit("/", 1)[1]
    other = pymysql.connect(host="127.0.0.1", user="root", database=name)
    try:
        with other.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0), CONNECTION_ID()", (f"sluice:{name}",))
            _, conn_id = cur.fetchone()
        with pytest.raises(LockTimeout) as info:
            run(mysql_url, migrations, lock_wait_seconds=1)
    finally:
        other.close()
    assert f"held by connection {conn_id} (root@" in str(info.value)


def test_dry_run_changes_nothing_and_takes_no_lock(pg_url, migrations):
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_seed_dml.sql", SEED)
    events = []
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (0x534C4349, 1))
        report = run(pg_url, migrations, dry_run=True, on_event=lambda kind, data: events.append((kind, data)))
    assert [(o.version, o.action, o.statements) for o in report.outcomes] == [
        ("0001", "would-apply", 1), ("0002", "would-apply", 2),
    ]
    planned = [data[1] for kind, data in events if kind == "plan"]
    assert [s.text for s in planned[1]] == [
        "INSERT INTO customers (id, name) VALUES (1, 'a;b'), (2, '50%')",
        "UPDATE customers SET name = 'c' WHERE id = 2",
    ]
    assert not table_exists(pg_url, "sluice_schema_history")
    assert not table_exists(pg_url, "customers")


def test_baseline_marks_an_existing_database(any_url, migrations):
    query(any_url, "CREATE TABLE customers (id integer PRIMARY KEY, name varchar(100))")
    migrations.write("0001_init.sql", INIT)
    migrations.write("0002_seed_dml.sql", SEED)
    migrations.write("0003_orders.sql", "CREATE TABLE orders (id integer PRIMARY KEY);")
    report = run(any_url, migrations, baseline="0002")
    assert [(o.action, o.reason) for o in report.outcomes] == [
        ("skipped", "covered by the baseline"), ("skipped", "baseline"), ("applied", ""),
    ]
    assert query(any_url, "SELECT count(*) FROM customers") == [(0,)]
    assert history_rows(any_url)["0002"][0] == "baseline"
    with pytest.raises(PlanError, match="cannot baseline at 0003: the database already has a migration history"):
        run(any_url, migrations, baseline="0003")


def test_a_sqlite_foreign_keys_pragma_takes_effect(sqlite_url, migrations):
    # Inside a transaction SQLite ignores the pragma without a word: the cascade would never run.
    migrations.write("0001_init.sql", "CREATE TABLE parent (id integer PRIMARY KEY);\n"
                     "CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent (id) "
                     "ON DELETE CASCADE);\nINSERT INTO parent VALUES (1), (2);\n"
                     "INSERT INTO child VALUES (10, 1), (20, 2);\n")
    migrations.write("0002_prune_dml.sql", "PRAGMA foreign_keys = ON;\nDELETE FROM parent WHERE id = 1;\n")
    report = run(sqlite_url, migrations)
    assert [o.action for o in report.outcomes] == ["applied", "applied"]
    assert query(sqlite_url, "SELECT id, parent_id FROM child") == [(20, 2)]
    assert history_rows(sqlite_url)["0002"] == ("applied", 2, 2)


def test_a_sqlite_savepoint_outside_begin_is_the_files_own_transaction(sqlite_url, migrations):
    # The pragma makes the file run statement by statement; SQLite's top-level SAVEPOINT … RELEASE is
    # then the file's own transaction, not two statements each in a transaction of the runner's.
    migrations.write("0001_init.sql", "CREATE TABLE parent (id integer PRIMARY KEY);\n"
                     "CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent (id) "
                     "ON DELETE CASCADE);\nINSERT INTO parent VALUES (1), (2);\n"
                     "INSERT INTO child VALUES (10, 1), (20, 2);\n")
    migrations.write("0002_prune_dml.sql", "PRAGMA foreign_keys = ON;\nSAVEPOINT prune;\nSAVEPOINT inner_one;\n"
                     "DELETE FROM parent WHERE id = 1;\nRELEASE inner_one;\nRELEASE SAVEPOINT prune;\n")
    report = run(sqlite_url, migrations)
    assert [o.action for o in report.outcomes] == ["applied", "applied"]
    assert query(sqlite_url, "SELECT id, parent_id FROM child") == [(20, 2)]
    # A failure inside it rolls the whole savepoint back, progress included.
    migrations.write("0003_bad_dml.sql", "PRAGMA foreign_keys = ON;\nSAVEPOINT s;\nDELETE FROM parent;\n"
                     "INSERT INTO nowhere VALUES (1);\nRELEASE s;\n")
    with pytest.raises(ApplyError):
        run(sqlite_url, migrations)
    assert query(sqlite_url, "SELECT id FROM parent") == [(2,)]
    assert history_rows(sqlite_url)["0003"] == ("partial", 1, 5)


def test_statements_run_as_their_original_text(any_url, migrations):
    # No parameter interpolation, no regeneration: %s, $1-like text and odd spacing reach the server as is.
    migrations.write("0001_init.sql", "CREATE TABLE t (v varchar(50));\n"
                                      "INSERT INTO t (v) VALUES ('%s %% %(x)s'),   ('$1 ?');\n")
    run(any_url, migrations)
    assert sorted(r[0] for r in query(any_url, "SELECT v FROM t")) == ["$1 ?", "%s %% %(x)s"]


def test_session_settings_of_one_file_do_not_leak_into_the_history_or_the_next_file(pg_url, migrations):
    migrations.write("0001_schema.sql", "CREATE SCHEMA other;\nSET search_path TO other;\nCREATE TABLE x (id int);\n")
    migrations.write("0002_next.sql", "CREATE TABLE y (id int);\n")
    run(pg_url, migrations)
    assert history_rows(pg_url) == {"0001": ("applied", 3, 3), "0002": ("applied", 1, 1)}
    assert table_exists(pg_url, "other.x") and table_exists(pg_url, "public.y")


SLOW = {
    "pg_url": "SELECT pg_sleep(5)",
    "mysql_url": "SELECT SLEEP(5)",
    "sqlite_url": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000000) "
                  "SELECT count(*) FROM c",
}


@pytest.mark.parametrize("engine", ["pg_url", "mysql_url", "sqlite_url"])
def test_statement_timeout_stops_a_slow_statement(engine, request, migrations):
    url = request.getfixturevalue(engine)
    migrations.write("0001_slow.sql", f"-- sluice:statement-timeout 500ms\nCREATE TABLE a (id int);\n{SLOW[engine]};\n")
    migrations.write("0002_after.sql", f"CREATE TABLE b (id int);\n{SLOW[engine].replace('5', '0.6', 1)};\n"
                     if engine != "sqlite_url" else "CREATE TABLE b (id int);\n")
    started = time.monotonic()
    with pytest.raises(ApplyError) as info:
        run(url, migrations)
    assert time.monotonic() - started < 4
    assert info.value.index == 2
    assert any(word in info.value.message for word in ("statement timeout", "max_statement_time", "statement-timeout"))
    assert "0001" not in history_rows(url) or history_rows(url)["0001"][0] == "partial"
    # The timeout was the file's own: the next file is not bound by it.
    if engine == "mysql_url":  # statement 1 committed there: undo it by hand, then mark the file pending
        query(url, "DROP TABLE a")
        repair(url, "0001", "mark-pending")
    migrations.write("0001_slow.sql", "CREATE TABLE a (id int);\n")
    assert [o.action for o in run(url, migrations).outcomes] == ["applied", "applied"]
