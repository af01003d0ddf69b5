"""What a careful DBA worries about: `kill -9` mid-file, and several runs started at once."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time

import pytest

from tests.helpers import history_rows, manage, manage_popen, query, table_exists

pytestmark = pytest.mark.slow

ENGINE_OF = {"pg_url": "postgresql", "mysql_url": "mysql", "sqlite_url": "sqlite"}


def sleep_sql(engine: str, seconds: str) -> str:
    """A statement that takes `seconds` (an SQL expression), per engine."""
    if engine == "postgresql":
        return f"SELECT pg_sleep({seconds})"
    if engine == "mysql":
        return f"SELECT SLEEP({seconds})"
    # SQLite has no sleep: count a long recursive sequence (a few million rows a second).
    return (f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {seconds} * 3000000) "
            "SELECT count(*) FROM c")


class Process:
    """`manage.py …` in the background, its output read line by line."""

    def __init__(self, *args: str):
        self.proc = manage_popen(*args, start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in self.lines.get(timeout=0.2):
                    return
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
        raise AssertionError(f"never saw {text!r}; output:\n{''.join(self.output)}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def wait_until_running(engine: str, url: str, fragment: str) -> None:
    """Until the server is executing the statement (SQLite: give it a moment)."""
    if engine == "sqlite":
        time.sleep(1.0)
        return
    # Not our own polling query, whose text contains the fragment too.
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
           "AND pid <> pg_backend_pid()"
           if engine == "postgresql" else
           "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID <> CONNECTION_ID()")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if query(url, sql, (f"%{fragment}%",))[0][0]:
            return
        time.sleep(0.1)
    raise AssertionError(f"{fragment} never started")


def write_slow_pair(migrations, engine: str, transaction_off: bool) -> None:
    migrations.write("0001_init.sql", "CREATE TABLE sleep_ctl (s integer);\nINSERT INTO sleep_ctl (s) VALUES (30);\n")
    header = "-- sluice:transaction off\n" if transaction_off else ""
    migrations.write(
        "0002_slow.sql",
        header + "CREATE TABLE t2 (id integer);\nINSERT INTO t2 (id) VALUES (1);\n"
        f"{sleep_sql(engine, '(SELECT s FROM sleep_ctl)')};\nINSERT INTO t2 (id) VALUES (2);\n",
    )


@pytest.mark.parametrize("fixture", ["pg_url", "sqlite_url"])
def test_kill_9_inside_a_transactional_file_leaves_nothing_and_the_rerun_applies_it_once(fixture, request, migrations):
    url, engine = request.getfixturevalue(fixture), ENGINE_OF[fixture]
    write_slow_pair(migrations, engine, transaction_off=False)
    proc = Process("apply", "--target", url, "--dir", str(migrations))
    proc.wait_for_line("0002_slow.sql: applying")
    wait_until_running(engine, url, "sleep_ctl)")
    proc.kill9()

    time.sleep(1.5)  # PostgreSQL cancels the orphaned statement within a second
    assert history_rows(url) == {"0001": ("applied", 2, 2)}
    assert not table_exists(url, "t2")

    query(url, "UPDATE sleep_ctl SET s = 0")
    rerun = manage("apply", "--target", url, "--dir", str(migrations))
    assert rerun.returncode == 0, rerun.stderr
    assert "✓ 0002_slow.sql: applied 4 statement(s)" in rerun.stdout
    assert query(url, "SELECT id FROM t2 ORDER BY id") == [(1,), (2,)]
    assert history_rows(url)["0002"] == ("applied", 4, 4)


@pytest.mark.parametrize("fixture", ["pg_url", "mysql_url", "sqlite_url"])
def test_kill_9_inside_a_stepwise_file_is_partial_and_resume_finishes_it(fixture, request, migrations):
    url, engine = request.getfixturevalue(fixture), ENGINE_OF[fixture]
    write_slow_pair(migrations, engine, transaction_off=True)
    proc = Process("apply", "--target", url, "--dir", str(migrations))
    proc.wait_for_line("0002_slow.sql: applying")
    wait_until_running(engine, url, "sleep_ctl)")
    proc.kill9()
    time.sleep(1.5)

    assert history_rows(url)["0002"] == ("partial", 2, 4)
    rerun = manage("apply", "--target", url, "--dir", str(migrations))
    assert rerun.returncode == 1
    assert ("0002_slow.sql: partial: 2 of 4 statements done; statement 3 at line 4 was interrupted; "
            "its outcome is unknown.") in rerun.stderr
    assert "repair --version 0002 resume | mark-applied | mark-pending" in rerun.stderr

    query(url, "UPDATE sleep_ctl SET s = 0")
    resumed = manage("repair", "--target", url, "--version", "0002", "resume", "--dir", str(migrations))
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at statement 3" in resumed.stdout
    # Statement 2 ran once: the resume started after it.
    assert query(url, "SELECT id FROM t2 ORDER BY id") == [(1,), (2,)]
    assert history_rows(url)["0002"] == ("applied", 4, 4)


def test_a_killed_concurrent_index_build_is_reported_as_invalid_not_claimed(pg_url, migrations):
    import psycopg

    migrations.write("0001_init.sql", "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer);\n")
    migrations.write(
        "0002_indexes.sql",
        "CREATE INDEX CONCURRENTLY idx_orders_id ON orders (id, customer_id);\n"
        "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id);\n",
    )
    assert manage("apply", "--target", pg_url, "--dir", str(migrations)).returncode == 0
    query(pg_url, "DROP INDEX idx_orders_customer")
    query(pg_url, "DELETE FROM sluice_schema_history WHERE version = '0002'")
    query(pg_url, "DROP INDEX idx_orders_id")

    # A writer's open transaction makes CREATE INDEX CONCURRENTLY wait after it has created the
    # (still invalid) index: kill the runner there.
    with psycopg.connect(pg_url) as writer:
        writer.execute("INSERT INTO orders (id, customer_id) VALUES (1, 1)")
        proc = Process("apply", "--target", pg_url, "--dir", str(migrations))
        proc.wait_for_line("0002_indexes.sql: applying")
        wait_until_running("postgresql", pg_url, "idx_orders_id ON")
        proc.kill9()
        time.sleep(2)  # the server cancels the orphaned build within a second
        writer.rollback()

    invalid = query(pg_url, "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                            "WHERE c.relname = 'idx_orders_id'")
    assert invalid == [(False,)]
    assert history_rows(pg_url)["0002"] == ("partial", 0, 2)

    rerun = manage("apply", "--target", pg_url, "--dir", str(migrations))
    assert rerun.returncode == 1
    assert "0002_indexes.sql: partial: 0 of 2 statements done; statement 1 at line 1 was interrupted" in rerun.stderr

    resume = manage("repair", "--target", pg_url, "--version", "0002", "resume", "--dir", str(migrations))
    assert resume.returncode == 1
    assert ("0002_indexes.sql:1: index idx_orders_id exists but is INVALID: the interrupted CREATE INDEX "
            "CONCURRENTLY left it behind. Drop it first (DROP INDEX CONCURRENTLY idx_orders_id;), then resume"
            ) in resume.stderr

    query(pg_url, "DROP INDEX CONCURRENTLY idx_orders_id")
    again = manage("repair", "--target", pg_url, "--version", "0002", "resume", "--dir", str(migrations))
    assert again.returncode == 0, again.stderr
    assert history_rows(pg_url)["0002"] == ("applied", 2, 2)


@pytest.mark.parametrize("fixture", ["pg_url", "mysql_url", "sqlite_url"])
@pytest.mark.parametrize("empty", [True, False], ids=["empty-database", "with-history"])
def test_five_runs_started_together_apply_every_file_exactly_once(fixture, empty, request, migrations):
    url, engine = request.getfixturevalue(fixture), ENGINE_OF[fixture]
    migrations.write("0001_init.sql", "CREATE TABLE log (v varchar(10));\n")
    if not empty:
        assert manage("apply", "--target", url, "--dir", str(migrations)).returncode == 0
    for n in range(2, 11):
        migrations.write(f"{n:04d}_step.sql", f"INSERT INTO log (v) VALUES ('{n:04d}');\n{sleep_sql(engine, '0.1')};\n")

    procs = [manage_popen("apply", "--target", url, "--dir", str(migrations)) for _ in range(5)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, "\n".join(outputs)

    logged = [row[0] for row in query(url, "SELECT v FROM log ORDER BY v")]
    assert logged == [f"{n:04d}" for n in range(2, 11)]  # each file's insert ran exactly once
    expected = {"0001": ("applied", 1, 1)} | {f"{n:04d}": ("applied", 2, 2) for n in range(2, 11)}
    assert history_rows(url) == expected
    assert sum(out.count("✓") for out in outputs) == (10 if empty else 9)
    if engine != "sqlite":
        # One run held the lock and applied everything; the others waited, then skipped it all.
        assert sum("✓" in out for out in outputs) == 1
