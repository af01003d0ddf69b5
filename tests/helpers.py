"""Running Sluice's commands as a user would: in their own processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(message: str) -> NoReturn:
    """Something a test needs is not here: a skip with the reason, a failure in CI (CI=true)."""
    if IN_CI:
        pytest.fail(f"{message} (in CI: a failure, not a skip)")
    pytest.skip(message)


def _own_var_dir() -> str:
    """A var/ folder for the commands the tests run, not the checkout's: a developer's control
    database (where `manage.py up` ran, policies edited in the admin) must not change a test."""
    global _VAR_DIR
    if _VAR_DIR is None:
        _VAR_DIR = tempfile.mkdtemp(prefix="sluice-test-var-")
    return _VAR_DIR


_VAR_DIR: str | None = None


def _env(extra: dict) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gitops.settings", **extra}
    if "SLUICE_VAR_DIR" not in extra and "DATABASE_URL" not in extra:
        env["SLUICE_VAR_DIR"] = _own_var_dir()
        env.pop("DATABASE_URL", None)
    return env


def manage(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run `manage.py` as a user would, in its own process (with a var/ folder of the tests' own,
    unless the test names one or a DATABASE_URL)."""
    env = _env(kwargs.pop("env", {}))
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, **kwargs,
    )


def manage_popen(*args: str, **kwargs) -> subprocess.Popen:
    env = {**_env(kwargs.pop("env", {})), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env, **kwargs,
    )


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run one statement on a target directly (not through Sluice) and return its rows."""
    from releases.runner.adapters.base import connect
    from releases.runner.target import parse_target

    adapter = connect(parse_target(url))
    try:
        if adapter.placeholder == "?":
            sql = sql.replace("%s", "?")
        if sql.lstrip().upper().startswith(("SELECT", "WITH", "SHOW")):
            return adapter.query(sql, params)
        adapter.run(sql, params)
        return []
    finally:
        adapter.close()


def table_exists(url: str, name: str) -> bool:
    engine = url.split(":", 1)[0]
    if engine.startswith("postgres"):
        return query(url, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0]
    if engine == "mysql":
        return bool(query(url, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                               "AND TABLE_NAME = %s", (name,)))
    return bool(query(url, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", (name,)))


def history_rows(url: str) -> dict[str, tuple]:
    """version → (status, statements_done, statements_total) from the target's own history."""
    if not table_exists(url, "sluice_schema_history"):
        return {}
    rows = query(url, "SELECT version, status, statements_done, statements_total FROM sluice_schema_history")
    return {row[0]: tuple(row[1:]) for row in rows}
