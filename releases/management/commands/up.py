"""`manage.py up`: migrate, seed the demo once, then run the web server and the worker together.

Both run as child processes in their own sessions, so a Ctrl-C in the terminal reaches only `up`,
which then sends exactly one SIGTERM to each child's main PID. Signalling qcluster's whole
process group (or signalling it twice) can deadlock its shutdown (django-q2#346, style.md §2
pitfall 6); the group is killed only as the last resort, after the grace period. Should `up`
itself be killed outright (SIGKILL), each child gets that one SIGTERM from the kernel instead
(manage.py's `_follow_parent`, Linux). A port already taken is refused before anything starts.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import IO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from releases.demo import seed_demo

GRACE_SECONDS = 10.0


class Child:
    """One child process whose output is relayed line by line with a name in front."""

    def __init__(self, name: str, args: list[str], out: IO[str], lock: threading.Lock):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SLUICE_UP_PARENT": str(os.getpid())}
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
            cwd=settings.BASE_DIR,
            start_new_session=True,
        )
        self.relay = threading.Thread(target=self._relay, args=(out, lock), daemon=True)
        self.relay.start()

    def _relay(self, out: IO[str], lock: threading.Lock) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with lock:
                out.write(f"{self.name:>6} | {line}")
                out.flush()

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the main PID only, never the group

    def kill(self) -> None:
        # Last resort: the whole group (its own session), so that qcluster's workers go too.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the web server could not listen on host:port, or None. Bound as runserver binds (with
    SO_REUSEADDR, so a port in TIME_WAIT passes) and released at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"unknown host ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is already in use (another Sluice?): stop it, or choose another with --port"
            return exc.strerror or str(exc)
    return None


class Command(BaseCommand):
    help = "Migrate, seed a demo on first run, and run the web server and the django-q2 worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="run the web server only")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options) -> None:
        # Before the migration and the demo: a second `up` on the same port changes nothing.
        if problem := _cannot_listen(host, port):
            raise CommandError(f"cannot serve on {host} port {port}: {problem}")
        try:
            call_command("migrate", interactive=False, verbosity=0)
            info = seed_demo()  # its control-database writes are one transaction
        except KeyboardInterrupt:
            self.say("Interrupted.")
            return

        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        base = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/"
        self.say("")
        if info.seeded:
            self.say(f"Seeded the demo project 'demo': {info.applied} sample migration(s) applied to test.")
            if info.error:
                self.say(f"warning: {info.error}", self.style.WARNING)
        if info.password:
            rule = "=" * 72
            self.say(rule, self.style.WARNING)
            self.say(f"  Log in at {base}admin/", self.style.WARNING)
            self.say(f"  username: {info.username}", self.style.WARNING)
            self.say(f"  password: {info.password}", self.style.WARNING)
            self.say(
                "  Shown only this once and not stored: note it, or change it in the admin.",
                self.style.WARNING,
            )
            self.say(rule, self.style.WARNING)
        self.say(f"Sluice: {base}  (admin: {base}admin/, API docs: {base}api/docs/)", self.style.SUCCESS)
        self.say("Press Ctrl-C to stop." + ("" if no_worker else " Starting the web server and the worker…"))
        self.say("")

        self.run_children(host, port, no_worker)

    def say(self, text: str, style: Callable[[str], str] | None = None) -> None:
        self.stdout.write(style(text) if style else text)
        self.stdout.flush()

    def run_children(self, host: str, port: int, no_worker: bool) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        # Installed before the first child starts, so that no signal can leave an orphan. SIGHUP
        # too: the children have sessions of their own, so closing the terminal reaches only `up`.
        signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, on_signal) for sig in signals}
        lock = threading.Lock()
        addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        children: list[Child] = []
        died: Child | None = None
        try:
            children.append(Child("web", ["runserver", "--noreload", addr], sys.stdout, lock))
            if not no_worker:
                children.append(Child("worker", ["qcluster"], sys.stdout, lock))
            while died is None and not stop.wait(0.2):
                died = next((c for c in children if c.process.poll() is not None), None)
        finally:
            self.stop_children(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if died is not None:
            raise CommandError(
                f"the {died.name} process exited unexpectedly (code {died.process.returncode}); "
                "stopped the rest"
            )
        self.say("Stopped.")

    def stop_children(self, children: list[Child]) -> None:
        for child in children:
            child.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{child.name} did not stop within {GRACE_SECONDS:.0f} s: killing it")
                child.kill()
                child.process.wait()
        for child in children:
            child.relay.join(timeout=2)
