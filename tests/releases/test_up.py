"""`manage.py up` as a user runs it: its own process, a fresh var dir, no DATABASE_URL."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import manage_popen

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def _descendants(pid: int) -> list[int]:
    result, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        result.append(child)
        todo += _children(child)
    return result


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


class Up:
    """A running `manage.py up`, its output collected by a thread."""

    def __init__(self, var_dir: Path, *args: str, port: int | None = None):
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # manage_popen starts from os.environ: the fixture has removed DATABASE_URL from it.
        env = {"SLUICE_VAR_DIR": str(var_dir)}
        self.process = manage_popen("up", "--port", str(self.port), *args, env=env)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"up exited early:\n{self.output}"
            try:
                with urllib.request.urlopen(f"{self.base}/admin/login/", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        pytest.fail(f"up did not serve within {timeout} s:\n{self.output}")

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} not in the output:\n{self.output}"
            time.sleep(0.2)

    def stop(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.reader.join(timeout=5)

    def kill(self) -> None:
        if self.process.poll() is None:
            for pid in _descendants(self.process.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.kill()
            self.process.wait()


@pytest.fixture
def up_factory(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    started: list[Up] = []

    def start(*args: str, port: int | None = None) -> Up:
        up = Up(tmp_path / "var", *args, port=port)
        started.append(up)
        return up

    yield start
    for up in started:
        up.kill()


def _login(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base}/admin/login/", timeout=10) as response:
        form = response.read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": username, "password": password, "next": "/admin/"}
    ).encode()
    with opener.open(f"{base}/admin/login/", data=data, timeout=10) as response:
        assert response.url == f"{base}/admin/", "the login was refused"
        assert "Site administration" in response.read().decode()
    return opener


def test_it_serves_the_demo_with_a_worker_and_stops_cleanly(up_factory):
    up = up_factory()
    up.wait_until_serving()
    password = re.search(r"password: (\S+)", up.output).group(1)

    opener = _login(up.base, "admin", password)
    with opener.open(f"{up.base}/", timeout=10) as response:
        home = response.read().decode()
    assert "Demo shop" in home
    for env in ("test", "staging", "prod"):
        assert f"<strong>{env}</strong>" in home
    assert "<code>202501170900</code>" in home  # the sample migrations were applied to test

    up.wait_for_output("running.")  # qcluster logs "Q Cluster <name> [sluice] running."
    children = _children(up.process.pid)
    commands = [_cmdline(pid) for pid in children]
    assert any("runserver" in c for c in commands), commands
    assert any("qcluster" in c for c in commands), commands
    everything = _descendants(up.process.pid)

    assert up.stop() == 0, up.output
    assert "Stopped." in up.output
    time.sleep(0.5)  # orphaned grandchildren, if any, would still show up here
    assert [pid for pid in everything if _alive(pid) and "manage.py" in _cmdline(pid)] == []


def test_a_second_start_does_not_seed_again(up_factory):
    first = up_factory("--no-worker")
    first.wait_until_serving()
    assert first.output.count("password: ") == 1
    assert first.stop() == 0, first.output

    second = up_factory("--no-worker")
    second.wait_until_serving()
    assert "password: " not in second.output
    assert "Seeded" not in second.output
    assert second.stop() == 0, second.output


def test_a_taken_port_is_refused_before_anything_starts(up_factory, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = up_factory(port=port)
        assert up.process.wait(timeout=60) == 1, up.output
    up.reader.join(timeout=5)
    assert f"cannot serve on 127.0.0.1 port {port}: the port is already in use" in up.output
    # Nothing was migrated, seeded or started: no control database, no password, no children.
    assert not (tmp_path / "var" / "sluice.sqlite3").exists()
    assert "password: " not in up.output and "Starting" not in up.output


def test_its_children_stop_when_up_itself_is_killed(up_factory):
    up = up_factory()
    up.wait_until_serving()
    up.wait_for_output("running.")
    everything = [pid for pid in _descendants(up.process.pid) if "manage.py" in _cmdline(pid)]
    assert len(everything) >= 2, everything  # the web server and qcluster (and its workers)
    up.process.kill()  # SIGKILL: `up` can stop nothing itself
    up.process.wait()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in everything):
            time.sleep(0.3)
        assert [(pid, _cmdline(pid)) for pid in everything if _alive(pid)] == []
    finally:  # (orphans of a failure must not outlive the test)
        for pid in everything:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"{up.base}/admin/login/", timeout=2)
