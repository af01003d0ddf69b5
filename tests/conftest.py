"""Shared fixtures: personas, and throwaway target databases on the real servers.

Each `pg_url` / `mysql_url` / `sqlite_url` is a fresh, empty database created for one test and
dropped after it. Without CI=true a server that is down skips the test with the reason; in CI it
is a failure.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.helpers import missing

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def _unavailable(what: str, exc: Exception):
    missing(f"{what} is not reachable: {exc}")


def _name(prefix: str) -> str:
    return f"sluice_{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pg_url():
    import psycopg

    name = _name("t")
    try:
        admin = psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG)
    except psycopg.Error as exc:
        _unavailable("PostgreSQL on 127.0.0.1:5432", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mysql_url():
    import pymysql

    name = _name("t")
    try:
        admin = pymysql.connect(autocommit=True, connect_timeout=5, **MYSQL)
    except pymysql.Error as exc:
        _unavailable("MariaDB/MySQL on 127.0.0.1:3306", exc)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            # Connections a killed test process left behind would hold metadata locks.
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (name,))
            for (pid,) in cur.fetchall():
                try:
                    cur.execute(f"KILL {int(pid)}")
                except pymysql.Error:
                    pass  # already gone
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'target.sqlite3'}"


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def any_url(request):
    """The same test on each engine."""
    return request.getfixturevalue({"postgresql": "pg_url", "mysql": "mysql_url", "sqlite": "sqlite_url"}[request.param])


@pytest.fixture
def migrations(tmp_path):
    """A migrations folder: migrations.write("0001_init.sql", "CREATE …")."""
    folder = tmp_path / "migrations"
    folder.mkdir()

    class Folder:
        path = folder

        def write(self, name: str, content: str | bytes) -> Path:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                target.write_text(content, encoding="utf-8", newline="")
            else:
                target.write_bytes(content)
            return target

        def __str__(self) -> str:
            return str(folder)

    return Folder()
