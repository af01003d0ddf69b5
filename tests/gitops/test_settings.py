"""Zero-config settings, and the environment variables that change them."""

from __future__ import annotations

import json

import pytest

from tests.helpers import manage

PROBE = """
import json
from django.conf import settings
from django.db import connection
with connection.cursor() as cur:
    cur.execute("PRAGMA journal_mode")
    journal = cur.fetchone()[0]
print(json.dumps({"name": str(settings.DATABASES["default"]["NAME"]), "options": settings.DATABASES["default"]["OPTIONS"],
                  "journal": journal, "q": settings.Q_CLUSTER, "debug": settings.DEBUG}))
"""


def probe(tmp_path, **env) -> dict:
    result = manage("shell", "-c", PROBE, env={"SLUICE_VAR_DIR": str(tmp_path), **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_need_no_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SLUICE_BROKER", raising=False)
    found = probe(tmp_path)
    assert found["name"] == str(tmp_path / "sluice.sqlite3")
    # IMMEDIATE transactions, WAL and a busy timeout: without them the worker and the web
    # process fail with "database is locked".
    assert found["options"]["transaction_mode"] == "IMMEDIATE"
    assert found["options"]["timeout"] == 20
    assert found["journal"] == "wal"
    q = found["q"]
    assert q["orm"] == "default" and q["max_attempts"] == 1
    assert q["retry"] > q["timeout"]  # else the broker hands a running task to a second worker


def test_a_redis_broker_url_selects_redis_and_reaches_the_server(tmp_path):
    check = (
        "from django_q.brokers import get_broker; b = get_broker(); "
        "print(type(b).__name__, b.ping())"
    )
    result = manage("shell", "-c", check, env={"SLUICE_VAR_DIR": str(tmp_path),
                                              "SLUICE_BROKER": "redis://127.0.0.1:6379/0"})
    if "Connection refused" in result.stderr:
        pytest.fail("Redis on 127.0.0.1:6379 is not reachable")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "Redis True"


def test_a_bad_broker_is_a_clear_error(tmp_path):
    result = manage("check", env={"SLUICE_VAR_DIR": str(tmp_path), "SLUICE_BROKER": "rabbit://x"})
    assert result.returncode != 0
    assert "SLUICE_BROKER must be 'orm' or a redis:// URL, not 'rabbit://x'" in result.stderr


def test_database_url_selects_another_control_database(tmp_path):
    other = tmp_path / "elsewhere.sqlite3"
    found = probe(tmp_path, DATABASE_URL=f"sqlite:///{other}")
    assert found["name"] == str(other)


def test_the_control_connection_outlives_a_queue_poll(tmp_path, pg_url):
    """django-q2's pusher and worker call close_old_connections before every poll and task: the
    control connection must survive that (it was a new PostgreSQL backend 50 times a second)."""
    check = (
        "from django.db import close_old_connections, connection\n"
        "def pid():\n"
        "    with connection.cursor() as cur:\n"
        "        cur.execute('SELECT pg_backend_pid()')\n"
        "        return cur.fetchone()[0]\n"
        "first = pid()\n"
        "close_old_connections()\n"
        "print(first == pid())\n"
    )
    result = manage("shell", "-c", check, env={"SLUICE_VAR_DIR": str(tmp_path), "DATABASE_URL": pg_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"
    result = manage("shell", "-c", check, env={"SLUICE_VAR_DIR": str(tmp_path), "DATABASE_URL": pg_url,
                                              "SLUICE_DB_CONN_MAX_AGE": "0"})
    assert result.stdout.strip().splitlines()[-1] == "False"  # the setting is honoured
