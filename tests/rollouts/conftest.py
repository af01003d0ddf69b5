"""A real django-q2 worker (`manage.py qcluster`, its own process group) on the test's control
database: a file (gitops/settings_test.py), so both processes see the same rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.helpers import ROOT

HEARTBEAT_SECONDS = 1
ORPHAN_SECONDS = 4


def wait_for(predicate: Callable[[], object], timeout: float = 60, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Worker:
    def __init__(self, database: str, workers: int, log_path, broker: str = "orm"):
        self.env = {
            "SLUICE_BROKER": broker,
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "gitops.settings",
            "DATABASE_URL": f"sqlite:///{database}",
            "SLUICE_WORKERS": str(workers),
            "SLUICE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "SLUICE_ORPHAN_SECONDS": str(ORPHAN_SECONDS),
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        log = open(self.log_path, "a")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """kill -9 of the whole cluster (sentinel, pusher, workers, monitor): a machine dying."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def redis_url():
    """A Redis database of its own for the queue (emptied before and after)."""
    import redis

    from tests.conftest import _unavailable

    url = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis on 127.0.0.1:6379", exc)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def worker(transactional_db, settings, monkeypatch, tmp_path):
    """Start with `worker(workers=N)`; enqueued tasks go through the ORM broker to it."""
    from django.db import connection
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    settings.SLUICE_HEARTBEAT_SECONDS = HEARTBEAT_SECONDS
    settings.SLUICE_ORPHAN_SECONDS = ORPHAN_SECONDS
    database = connection.settings_dict["NAME"]
    started: list[Worker] = []

    def start(workers: int = 4, broker: str = "orm") -> Worker:
        if broker != "orm":  # the test process enqueues to the same broker as the worker
            monkeypatch.setattr(Conf, "ORM", None)
            monkeypatch.setattr(Conf, "REDIS", broker)
        w = Worker(database, workers, tmp_path / f"worker-{len(started)}.log", broker).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()  # the test is over: nothing to finish cleanly, and a graceful stop takes seconds
    if sys.exc_info()[0] is not None:
        for w in started:
            print(w.log()[-5000:])


@pytest.fixture
def pg_urls(request):
    """Throwaway PostgreSQL databases: ten, or as many as an indirect parameter says."""
    import psycopg

    from tests.conftest import PG, _name

    names = [_name("f") for _ in range(request.param if hasattr(request, "param") else 10)]
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield [f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{name}" for name in names]
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
