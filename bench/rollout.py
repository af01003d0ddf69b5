#!/usr/bin/env python
"""Benchmark: one release rolled out by the real django-q2 worker (`manage.py qcluster`).

One release of --files (200) generated migrations goes to --sqlite (100) SQLite databases and to
--pg (20) PostgreSQL databases, each set in one automatic stage of its own project (concurrency =
--workers), through the real worker on the ORM broker, on a fresh control database (SQLite file,
or a throwaway PostgreSQL database with --control postgres). Measured, and printed:

  1 runner alone  releases.runner.apply() of the files in this process, sequentially, on a sample
                  of fresh databases (10 SQLite, 5 PostgreSQL), and its re-run with nothing to do
  2 stage         services.create_release() → the rollout finished: wall, per database
                  (wall × workers / N), what the rows say (claim → finished, queue wait, the gap
                  between a worker's tasks), and the worker overhead per database. The target: the workers'
                  busy time (from the moment the stage is queued to each worker's last task's end)
                  − the runner's own time in the worker (TaskRun.runner_ms), over N. Info: the same
                  from wall × workers / N (it also counts the call and the workers left idle while
                  the stage's last task runs), and per database − the runner alone in one process
                  (on 2 cores it also counts two runners at once being slower than one).
  3 re-deploy     services.redeploy() of the same release to the up-to-date databases
  4 the same for the PostgreSQL databases
  5 profile       run_task in this process, instrumented, on --profile fresh SQLite databases
                  (its apply, then its re-deploy): where a task's time goes outside the runner
Checks: every task succeeded; every target's sluice_schema_history has exactly --files rows; the
re-deploy applied nothing.

Plain stdlib plus the project's packages; run it with the project's interpreter:
    .venv/bin/python bench/rollout.py [--sqlite 100] [--pg 20] [--files 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project root (where manage.py is)
MANAGE = ROOT / "manage.py"
PG_DEFAULT = os.environ.get("SLUICE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
OVERHEAD_TARGET_MS = 50.0  # worker overhead per database, on top of the runner's own time
REDEPLOY_TARGET_S = 5.0  # re-deploy of 100 up-to-date databases (scaled to --sqlite)
RUNNER_SAMPLE = {"sqlite": 10, "postgres": 5}
WAIT_POLL_S = 0.1

Files = list[tuple[str, bytes]]


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


# ---------------------------------------------------------------------------------------------
# migration files


def migration_sql(i: int, width: int) -> str:
    """Small DDL + DML, valid on PostgreSQL and SQLite, clean under the `recommended` policy."""
    t = f"step_{i:0{width}d}"
    lines = [
        f"-- rollout bench migration {i}: table {t}",
        f"CREATE TABLE {t} (id bigint PRIMARY KEY, name varchar(100) NOT NULL, qty integer NOT NULL DEFAULT 0);",
        f"CREATE INDEX ix_{t}_name ON {t} (name);",
        f"INSERT INTO {t} (id, name, qty) VALUES (1, 'alpha', 1), (2, 'beta', 2), (3, 'gamma', 3);",
        f"ALTER TABLE {t} ADD COLUMN note varchar(200);",
    ]
    if i % 4 == 0:  # every fourth file has a fifth statement
        lines.append(f"UPDATE {t} SET note = 'seeded' WHERE id = 1;")
    return "\n".join(lines) + "\n"


def generate(n: int) -> Files:
    """migrations/<202501010000 + i>_step_<i>.sql (releases.loader.parse_name: <version>_<description>.sql)."""
    width = max(3, len(str(n)))
    return [(f"migrations/{202501010000 + i}_step_{i:0{width}d}.sql", migration_sql(i, width).encode())
            for i in range(1, n + 1)]


# ---------------------------------------------------------------------------------------------
# PostgreSQL: throwaway databases sluice_bench_<tag>_*, dropped at the end (also on failure)


class Postgres:
    def __init__(self, base_url: str, keep: bool):
        self.base_url = base_url.rstrip("/")  # postgresql://user@host:port (no database)
        self.keep = keep
        self.tag = secrets.token_hex(3)
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def _admin(self):
        import psycopg

        return psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10)

    def version(self) -> str:
        with self._admin() as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def create(self, labels: Sequence[str]) -> list[str]:
        names = [f"sluice_bench_{self.tag}_{label}" for label in labels]
        with self._admin() as conn:
            for name in names:
                self.created.append(name)
                conn.execute(f'CREATE DATABASE "{name}"')
        return names

    def drop(self, names: Sequence[str]) -> None:
        if self.keep or not names:
            return
        with self._admin() as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                if name in self.created:
                    self.created.remove(name)

    def drop_all(self) -> None:
        self.drop(list(self.created))


# ---------------------------------------------------------------------------------------------
# the worker: `manage.py qcluster` in its own process group


class Cluster:
    def __init__(self, env: dict, log_path: Path, workers: int):
        self.env, self.log_path, self.workers = env, log_path, workers
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> float:
        started = time.perf_counter()
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, str(MANAGE), "qcluster"], cwd=ROOT, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if " running." in text and text.count("ready for work") >= self.workers:
                return time.perf_counter() - started
            if self.proc.poll() is not None:
                raise BenchError(f"qcluster exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"qcluster not running after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, chars: int = 3000) -> str:
        return self.log()[-chars:]

    def stop(self) -> None:
        """SIGTERM to the group (sentinel, pusher, workers, monitor); SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


# ---------------------------------------------------------------------------------------------
# results


class Results:
    """Rows in first-seen order; with --repeat, every sample is kept and the best (minimum) shown."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {}  # key -> [label, unit, samples, note]
        self.checks: dict[str, list] = {}  # key -> [label, value text, ok]
        self.notes: list[str] = []

    def add(self, key: str, label: str, seconds: float | None, unit: str, note: str = "") -> None:
        row = self.rows.setdefault(key, [label, unit, [], note])
        if note:
            row[3] = note
        if seconds is not None:
            row[2].append(seconds)

    def best(self, key: str) -> float | None:
        row = self.rows.get(key)
        return min(row[2]) if row and row[2] else None

    def check(self, key: str, label: str, value: str, ok: bool) -> None:
        prev = self.checks.get(key)
        self.checks[key] = [label, value, ok and (prev is None or prev[2])]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def shown(seconds: float | None, unit: str) -> str:
    if seconds is None:
        return "-"
    if unit.startswith("ms"):
        return f"{seconds * 1000:.1f}"
    return f"{seconds:.3f}"


# ---------------------------------------------------------------------------------------------
# setting up the control database, projects and targets (Django is imported only after the env)


def make_project(slug: str, urls: Sequence[str], concurrency: int):
    from releases.models import Database, Environment, FailurePolicy, Project, RolloutMode

    project = Project.objects.create(slug=slug, name=slug)
    environment = Environment.objects.create(
        project=project, slug="fleet", name="fleet", order=1, rollout=RolloutMode.AUTOMATIC, required_approvals=0,
        concurrency=concurrency, failure_policy=FailurePolicy.STOP,
    )
    width = max(3, len(str(len(urls))))
    for i, url in enumerate(urls, 1):
        Database.objects.create(environment=environment, name=f"db-{i:0{width}d}", url=url)
    return project


def parallel_sample(n: int, workers: int) -> int:
    """At least n databases, a multiple of workers (every process gets as many)."""
    return workers * -(-n // workers) if n else 0


def sqlite_urls(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(n)))
    return [f"sqlite:///{folder / f'db-{i:0{width}d}.sqlite3'}" for i in range(1, n + 1)]


def wait_rollout(rollout_id: int, cluster: Cluster, timeout: float) -> dict:
    from releases.models import Rollout, RolloutStatus, StageStatus, Task

    deadline = time.monotonic() + timeout
    while True:
        row = Rollout.objects.filter(pk=rollout_id).values("status", "finished_at").get()
        if row["status"] in RolloutStatus.TERMINAL:
            return row
        stuck = Rollout.objects.get(pk=rollout_id).stages.exclude(
            status__in=(StageStatus.RUNNING, *StageStatus.TERMINAL)).first()
        if stuck is not None:
            raise BenchError(f"stage {stuck} is {stuck.status}: {stuck.error}")
        if not cluster.alive():
            raise BenchError(f"the worker died:\n{cluster.tail()}")
        if time.monotonic() > deadline:
            counts = Counter(Task.objects.filter(stage__rollout_id=rollout_id).values_list("status", flat=True))
            raise BenchError(f"rollout {rollout_id} not finished after {timeout:.0f} s (tasks: {dict(counts)})\n"
                             f"{cluster.tail()}")
        time.sleep(WAIT_POLL_S)


def task_stats(rollout_id: int) -> dict:
    """What Sluice's rows of one finished rollout say (seconds). django-q2 keeps no rows of its
    own for successful tasks (save_limit -1), so its side shows only in the gaps between tasks."""
    from releases.models import Task, TaskRun

    tasks = list(Task.objects.filter(stage__rollout_id=rollout_id).select_related("database"))
    runs: dict[int, TaskRun] = {}
    for run in TaskRun.objects.filter(task__stage__rollout_id=rollout_id).order_by("attempt"):
        runs[run.task_id] = run  # the last attempt

    def sec(a, b) -> float | None:
        return (b - a).total_seconds() if a is not None and b is not None else None

    in_task, queue_wait, file_time, applied, runner_ms = [], [], [], [], []
    for t in tasks:
        for values, value in ((in_task, sec(t.started_at, t.finished_at)), (queue_wait, sec(t.queued_at, t.started_at))):
            if value is not None:
                values.append(value)
        run = runs.get(t.pk)
        if run is not None:
            file_time.append(sum(o.get("duration_ms") or 0 for o in run.outcomes) / 1000)
            runner_ms.append(run.runner_ms / 1000)
            applied.append(sum(o.get("action") == "applied" for o in run.outcomes))
    # On each worker process: from one task's finish to the claim of its next task.
    by_worker: dict[str, list] = defaultdict(list)
    for t in tasks:
        if t.started_at and t.finished_at:
            by_worker[t.worker].append(t)
    gaps = []
    for seq in by_worker.values():
        seq.sort(key=lambda t: t.started_at)
        for prev, nxt in zip(seq, seq[1:], strict=False):
            gaps.append(sec(prev.finished_at, nxt.started_at))
    last_finish = {w: max(t.finished_at for t in seq).timestamp() for w, seq in by_worker.items()}
    nothing = [
        t.pk for t in tasks
        if t.pk in runs and not any(o.get("action") == "applied" for o in runs[t.pk].outcomes)
        and runs[t.pk].log.rstrip().endswith("nothing to apply")
    ]
    return {
        "tasks": len(tasks),
        "statuses": Counter(t.status for t in tasks),
        "workers": len(by_worker),
        "in_task": mean(in_task), "queue_wait": mean(queue_wait), "gap": mean(gaps),
        "file_time": mean(file_time), "runner_in_worker": mean(runner_ms),
        "applied": sum(applied), "nothing_applied": len(nothing),
        "last_finish": last_finish, "runner_sum": sum(runner_ms),
    }


# ---------------------------------------------------------------------------------------------
# 1. the runner alone


def runner_alone(urls: Sequence[str], migrations, n_files: int) -> tuple[list[float], list[float]]:
    from releases.runner import ApplyOptions, apply

    options = ApplyOptions(release_id="bench-runner", applied_by="sluice:bench-runner")
    applies, reruns = [], []
    for url in urls:
        start = time.perf_counter()
        report = apply(url, migrations, options)
        applies.append(time.perf_counter() - start)
        if len(report.applied) != n_files:
            raise BenchError(f"runner alone: {len(report.applied)} of {n_files} files applied on {report.database}")
    for url in urls:
        start = time.perf_counter()
        report = apply(url, migrations, options)
        reruns.append(time.perf_counter() - start)
        if report.applied:
            raise BenchError(f"runner alone: the re-run applied {len(report.applied)} file(s) on {report.database}")
    return applies, reruns


def _parallel_child(urls, migrations, n_files, go, done) -> None:
    from releases.runner import ApplyOptions, apply

    options = ApplyOptions(release_id="bench-runner", applied_by="sluice:bench-runner")
    go.wait()
    problems = []
    for url in urls:
        report = apply(url, migrations, options)
        if len(report.applied) != n_files:
            problems.append(f"{report.database}: {len(report.applied)} of {n_files} applied")
    done.put((time.time(), problems))


def runner_parallel(urls: Sequence[str], migrations, n_files: int, workers: int) -> float:
    """The runner alone in `workers` processes at once (forked from this one, so already warm),
    each applying its share of fresh databases: wall × workers / len(urls), seconds per database."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # nothing of Django's crosses the fork
    ctx = multiprocessing.get_context("fork")
    go, done = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_parallel_child, args=(list(urls[i::workers]), migrations, n_files, go, done))
             for i in range(workers)]
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # let them reach go.wait()
    start = time.time()
    go.set()
    results = [done.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(30)
    problems = [p for _, ps in results for p in ps]
    if problems:
        raise BenchError(f"runner in parallel: {problems[:3]}")
    return (max(t for t, _ in results) - start) * workers / len(urls)


# ---------------------------------------------------------------------------------------------
# 2-4. a stage with the real worker, and its re-deploy


def measure(start: Callable[[], object], cluster: Cluster, timeout: float) -> dict:
    t0 = time.time()
    p0 = time.perf_counter()
    rollout = start()
    call = time.perf_counter() - p0
    row = wait_rollout(rollout.pk, cluster, timeout)
    end = row["finished_at"].timestamp() if row["finished_at"] else time.time()
    stats = task_stats(rollout.pk)
    stats.update(rollout=rollout.pk, status=row["status"], wall=end - t0, call=call,
                 after=max(end - t0 - call, 0.0))
    # Busy time: each worker process from the moment the call had queued the stage to its own last
    # task's end (the last one: the rollout's end). A worker with no task left while another runs
    # the stage's last one is idle, not overhead: that wait is counted by wall, not here.
    ends = sorted(stats.pop("last_finish").values())
    if ends:
        ends[-1] = max(ends[-1], end)
        stats["busy"] = sum(max(e - t0 - call, 0.0) for e in ends)
    return stats


def record_stage(res: Results, key: str, name: str, st: dict, n: int, workers: int, runner: float | None,
                 redeploy: bool, parallel: float | None = None) -> None:
    what = "re-deploy" if redeploy else "stage"
    call_name = "redeploy()" if redeploy else "create_release()"
    per_db = st["wall"] * workers / n
    res.add(f"{key}.wall", f"{name} {what}: wall, {call_name} → rollout finished", st["wall"], "s")
    res.add(f"{key}.call", f"  of which the {call_name} call (store, review, plan, queue)", st["call"], "s")
    res.add(f"{key}.per_db_plain", "  time per database: wall / N", st["wall"] / n, "ms/db")
    res.add(f"{key}.per_db", f"  per database: wall × {workers} workers / N (effective cost)", per_db, "ms/db")
    res.add(f"{key}.in_task", "  rows: claim → finished (Task.started_at → finished_at), mean", st["in_task"], "ms")
    res.add(f"{key}.file_time", "  rows: runner file time, sum of TaskRun outcomes' duration_ms", st["file_time"], "ms")
    res.add(f"{key}.runner_in_worker", "  rows: the runner's own time in the worker (TaskRun.runner_ms), mean",
            st["runner_in_worker"], "ms")
    res.add(f"{key}.queue_wait", "  rows: queue wait (Task.queued_at → started_at), mean", st["queue_wait"], "ms")
    res.add(f"{key}.gap", "  rows: gap (task finished → next claim, same worker)", st["gap"], "ms",
            "the end of a task, django-q2, the next claim")
    if st["runner_in_worker"] is not None:
        res.add(f"{key}.overhead_own", "  worker overhead per database = per database − the runner's own time in the worker",
                per_db - st["runner_in_worker"], "ms/db")
        res.add(f"{key}.overhead_own_after",
                f"  same, without the {call_name} call: (wall − call) × {workers} / N − the runner's own time",
                st["after"] * workers / n - st["runner_in_worker"], "ms/db")
    if st.get("busy") is not None and st["runner_sum"]:
        res.add(f"{key}.overhead_busy",
                "  worker overhead per database = (Σ workers' busy time − Σ runner's own time) / N",
                (st["busy"] - st["runner_sum"]) / n, "ms/db",
                "busy: queued → the worker's last task ended; the call and end-of-stage idle not counted")
    if runner is not None:
        res.add(f"{key}.overhead", f"  worker overhead per database = per database − runner {'re-run' if redeploy else 'alone'}",
                per_db - runner, "ms/db")
        res.add(f"{key}.overhead_after",
                f"  same, without the {call_name} call: (wall − call) × {workers} / N − runner",
                st["after"] * workers / n - runner, "ms/db")
    if parallel is not None:
        res.add(f"{key}.overhead_parallel",
                f"  worker overhead vs the runner alone in {workers} process(es) at once", per_db - parallel, "ms/db")


def check_targets(res: Results, key: str, name: str, engine: str, urls: Sequence[str], n_files: int,
                  environment_id: int) -> None:
    """sluice_schema_history has exactly n_files rows (all applied) and n_files step_ tables, on each target."""
    from django.db.models import Count

    from releases.models import AppliedMigration

    bad = []
    for url in urls:
        try:
            if engine == "sqlite":
                with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
                    rows, applied = conn.execute(
                        "SELECT count(*), coalesce(sum(status = 'applied'), 0) FROM sluice_schema_history").fetchone()
                    tables = conn.execute(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'step\\_%' ESCAPE '\\'"
                    ).fetchone()[0]
            else:
                import psycopg

                with psycopg.connect(url, connect_timeout=10) as conn:
                    rows, applied = conn.execute(
                        "SELECT count(*), count(*) FILTER (WHERE status = 'applied') FROM sluice_schema_history"
                    ).fetchone()
                    tables = conn.execute(
                        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'step\\_%'"
                    ).fetchone()[0]
        except Exception as exc:  # a missing history table is a failed check, not a crash
            bad.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        if (rows, applied, tables) != (n_files, n_files, n_files):
            bad.append(f"{url}: {rows} history rows ({applied} applied), {tables} tables")
    res.check(f"{key}.history", f"{name}: sluice_schema_history = {n_files} rows on every target",
              f"{len(urls) - len(bad)}/{len(urls)}", not bad)
    for line in bad[:5]:
        res.note(f"{name} target check: {line}")
    deadline = time.monotonic() + 10  # the last task's mirror follows the rollout's end by moments
    while True:
        mirrors = dict(AppliedMigration.objects.filter(database__environment_id=environment_id)
                       .values_list("database_id").annotate(n=Count("id")).values_list("database_id", "n"))
        good = sum(1 for n in mirrors.values() if n == n_files)
        if good == len(urls) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    res.check(f"{key}.mirror", f"{name}: AppliedMigration mirror = {n_files} rows per database",
              f"{good}/{len(urls)}", good == len(urls))


def run_engine(res: Results, *, key: str, name: str, engine: str, urls: list[str], sample: list[str],
               psample: list[str], files: Files, migrations, project, workers: int, cluster: Cluster,
               round_: int) -> None:
    from releases import services
    from releases.models import TaskStatus

    n, n_files = len(urls), len(files)
    timeout = max(300.0, n * n_files * 0.02)
    runner = rerun = None
    if sample:
        log(f"  [{name}] runner alone on {len(sample)} fresh database(s)")
        applies, reruns = runner_alone(sample, migrations, n_files)
        runner, rerun = statistics.fmean(applies), statistics.fmean(reruns)
        res.add(f"{key}.runner", f"{name} runner alone: apply() of {n_files} files, mean of {len(sample)}", runner,
                "s/db", f"sequential, in-process; min {min(applies):.3f} max {max(applies):.3f}")
        res.add(f"{key}.runner_rerun", f"{name} runner alone: re-run, nothing to do", rerun, "ms/db")
    parallel = None
    if psample:
        log(f"  [{name}] runner alone in {workers} processes at once on {len(psample)} fresh database(s)")
        parallel = runner_parallel(psample, migrations, n_files, workers)
        res.add(f"{key}.runner_parallel",
                f"{name} runner alone, {workers} process(es) at once: wall × {workers} / {len(psample)}", parallel,
                "s/db", "the same parallelism as the worker, without it")

    log(f"  [{name}] release of {n_files} files to {n} database(s), {workers} worker(s)")
    commit = secrets.token_hex(20)

    def create():
        release, _ = services.create_release(project, commit=commit, files=files, branch="main",
                                             title=f"rollout bench round {round_}")
        return release.rollouts.get()

    st = measure(create, cluster, timeout)
    record_stage(res, key, name, st, n, workers, runner, redeploy=False, parallel=parallel)
    ok = st["statuses"].get(TaskStatus.SUCCEEDED, 0)
    res.check(f"{key}.ok", f"{name} stage: every task succeeded", f"{ok}/{n}", ok == n and st["status"] == "succeeded")
    if ok != n:
        res.note(f"{name} stage: rollout {st['status']}, tasks {dict(st['statuses'])}")
    res.note(f"{name} stage: tasks ran on {st['workers']} worker process(es)")
    environment_id = project.environments.get().pk
    check_targets(res, key, name, engine, urls, n_files, environment_id)

    log(f"  [{name}] re-deploy of the same release to the {n} up-to-date database(s)")
    release = project.releases.get()
    st = measure(lambda: services.redeploy(release, services.SYSTEM), cluster, timeout)
    record_stage(res, f"{key}.re", name, st, n, workers, rerun, redeploy=True)
    ok = st["statuses"].get(TaskStatus.SUCCEEDED, 0)
    res.check(f"{key}.re.ok", f"{name} re-deploy: every task succeeded", f"{ok}/{n}",
              ok == n and st["status"] == "succeeded")
    res.check(f"{key}.re.nothing", f"{name} re-deploy: nothing applied (TaskRun outcomes, log)",
              f"{st['nothing_applied']}/{n}", st["nothing_applied"] == n and st["applied"] == 0)
    check_targets(res, f"{key}.re", f"{name} after re-deploy", engine, urls, n_files, environment_id)


# ---------------------------------------------------------------------------------------------
# 5. profile: run_task in this process, instrumented


class Phases:
    """Time spent per phase of run_task, and control-database query time per phase."""

    BODY = "run_task body"

    def __init__(self) -> None:
        self.current = self.BODY
        self.time: dict[str, float] = defaultdict(float)
        self.queries: dict[str, list] = defaultdict(lambda: [0, 0.0])  # key -> [count, seconds]
        self.claimed = False

    @contextlib.contextmanager
    def phase(self, name: str):
        previous, self.current = self.current, name
        start = time.perf_counter()
        try:
            yield
        finally:
            self.time[name] += time.perf_counter() - start
            self.current = previous

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            with self.phase(name):
                return fn(*args, **kwargs)
        return timed

    def execute(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            text = sql.lstrip().upper()
            if self.current == self.BODY:
                if text.startswith('UPDATE "RELEASES_TASK"'):
                    key = "finish: Task UPDATE" if self.claimed else "claim: conditional Task UPDATE"
                    self.claimed = True
                elif text.startswith("SELECT") and 'FROM "RELEASES_TASK"' in text:
                    key = "load Task (select_related)"
                elif text.startswith('INSERT INTO "RELEASES_TASKRUN"'):
                    key = "TaskRun create (INSERT)"
                elif text.startswith('UPDATE "RELEASES_TASKRUN"'):
                    key = "finish: TaskRun UPDATE (outcomes, log)"
                else:
                    key = "other run_task query"
            else:
                key = f"{self.current}: queries"
                if text.startswith(("INSERT", "UPDATE", "DELETE")):
                    self.queries[f"{self.current}: writes"][0] += 1
            self.queries[key][0] += 1
            self.queries[key][1] += elapsed


def profile_run(project, files: Files, workers: int) -> dict:
    """The stage's tasks run by run_task in this process (enqueue patched to collect their ids),
    first the apply, then the re-deploy; the broker and worker processes are left out."""
    from django.db import connection

    from releases import services, tasks

    saved = {
        "tasks.apply": tasks.apply, "tasks._files": tasks._files, "tasks._mirror": tasks._mirror,
        "tasks._Heartbeat": tasks._Heartbeat, "services.advance": services.advance,
        "services.advance_pass": services.advance_pass,
        "services.finish_cancelled_stages": services.finish_cancelled_stages, "services.enqueue": services.enqueue,
    }
    queued: list[int] = []
    out: dict = {}
    phases = Phases()

    class TimedHeartbeat(saved["tasks._Heartbeat"]):
        def start(self) -> None:
            with phases.phase("heartbeat thread start"):
                super().start()

        def join(self, timeout=None) -> None:
            with phases.phase("heartbeat thread join"):
                super().join(timeout)

    try:
        tasks.apply = phases.wrap("runner apply()", saved["tasks.apply"])
        tasks._files = phases.wrap("parse release files (_files)", saved["tasks._files"])
        tasks._mirror = phases.wrap("history mirror (_mirror)", saved["tasks._mirror"])
        tasks._Heartbeat = TimedHeartbeat
        services.advance = phases.wrap("services.advance", saved["services.advance"])
        services.advance_pass = phases.wrap("services.advance", saved["services.advance_pass"])
        services.finish_cancelled_stages = phases.wrap("services.finish_cancelled_stages",
                                                       saved["services.finish_cancelled_stages"])
        services.enqueue = queued.append
        release = None
        for label in ("apply", "redeploy"):
            queued.clear()
            if label == "apply":
                release, _ = services.create_release(project, commit=secrets.token_hex(20), files=files,
                                                     title="rollout bench profile")
            else:
                services.redeploy(release, services.SYSTEM)
            phases.__init__()
            totals, results = [], []
            with connection.execute_wrapper(phases.execute):
                while queued:
                    task_id = queued.pop(0)
                    phases.claimed = False
                    start = time.perf_counter()
                    results.append(tasks.run_task(task_id))
                    totals.append(time.perf_counter() - start)
            failed = [r for r in results if not r.endswith("succeeded")]
            if failed:
                raise BenchError(f"profile ({label}): {failed[:3]}")
            out[label] = {"n": len(totals), "total": sum(totals), "time": dict(phases.time),
                          "queries": {k: list(v) for k, v in phases.queries.items()}}
    finally:
        tasks.apply, tasks._files, tasks._mirror = saved["tasks.apply"], saved["tasks._files"], saved["tasks._mirror"]
        tasks._Heartbeat = saved["tasks._Heartbeat"]
        services.advance = saved["services.advance"]
        services.advance_pass = saved["services.advance_pass"]
        services.finish_cancelled_stages = saved["services.finish_cancelled_stages"]
        services.enqueue = saved["services.enqueue"]
    # What a new control connection costs: the worker keeps its connection for CONN_MAX_AGE
    # (django-q2's close_old_django_connections before every task closes only an old one).
    samples = []
    for _ in range(10):
        connection.close()
        start = time.perf_counter()
        connection.ensure_connection()
        samples.append(time.perf_counter() - start)
    out["reconnect"] = statistics.median(samples)
    return out


PROFILE_ROWS = [
    ("claim: conditional Task UPDATE", "q"),
    ("load Task (select_related)", "q"),
    ("TaskRun create (INSERT)", "q"),
    ("heartbeat thread start", "t"),
    ("parse release files (_files)", "t"),
    ("runner apply()", "runner"),
    ("cancel checks inside apply() (_Stop: Rollout query every 0.5 s)", "stop"),
    ("finish: Task UPDATE", "q"),
    ("finish: TaskRun UPDATE (outcomes, log)", "q"),
    ("history mirror (_mirror)", "t"),
    ("heartbeat thread join", "t"),
    ("services.finish_cancelled_stages", "t"),
    ("services.advance", "t"),
]


def profile_table(prof: dict, stages: dict, runner: dict, workers: int, poll: float) -> list[str]:
    """ms per task: the in-process instrumented run, then what the real worker's rows say."""
    cols = [c for c in ("apply", "redeploy") if c in prof]
    lines = [f"  {'per task, ms':<76} " + " ".join(f"{c:>9}" for c in cols),
             f"  {'-' * 76} " + " ".join("-" * 9 for _ in cols)]

    def value(col: str, name: str, kind: str) -> float:
        p = prof[col]
        stop = p["queries"].get("runner apply(): queries", [0, 0.0])[1]
        if kind == "q":
            seconds = p["queries"].get(name, [0, 0.0])[1]
        elif kind == "runner":
            seconds = p["time"].get(name, 0.0) - stop
        elif kind == "stop":
            seconds = stop
        else:
            seconds = p["time"].get(name, 0.0)
        return seconds / max(p["n"], 1) * 1000

    lines.append(f"  {'in this process (run_task called directly, sequential, SQLite targets):':<76}")
    sums = {c: 0.0 for c in cols}
    for name, kind in PROFILE_ROWS:
        vals = {c: value(c, name, kind) for c in cols}
        for c in cols:
            sums[c] += vals[c]
        lines.append(f"    {name:<74} " + " ".join(f"{vals[c]:>9.1f}" for c in cols))
    totals = {c: prof[c]["total"] / max(prof[c]["n"], 1) * 1000 for c in cols}
    lines.append(f"    {'other (ORM Python around those queries, target(), options, log lines)':<74} "
                 + " ".join(f"{totals[c] - sums[c]:>9.1f}" for c in cols))
    lines.append(f"    {'= run_task total':<74} " + " ".join(f"{totals[c]:>9.1f}" for c in cols))
    own = {c: totals[c] - value(c, "runner apply()", "runner") for c in cols}
    lines.append(f"    {'= run_task total − runner apply() (the task’s own overhead)':<74} "
                 + " ".join(f"{own[c]:>9.1f}" for c in cols))
    writes = {c: prof[c]["queries"].get("history mirror (_mirror): writes", [0, 0.0])[0] for c in cols}
    adv = {c: prof[c]["queries"].get("services.advance: queries", [0, 0.0])[0] / max(prof[c]["n"], 1) for c in cols}
    lines.append(f"    {'(mirror write statements in all, advance queries per task)':<74} "
                 + " ".join(f"{f'{writes[c]}, {adv[c]:.0f}':>9}" for c in cols))
    lines.append(f"    {'control-database reconnect (once per CONN_MAX_AGE, not per task)':<74} "
                 + " ".join(f"{prof['reconnect'] * 1000:>9.1f}" for _ in cols))
    if stages:
        lines.append(f"  {'the real worker (rows of the SQLite stage / re-deploy, ' + str(workers) + ' workers in parallel):':<76}")
        def par(s, r):
            return s["par"] if s.get("par") is not None else r

        rows = [
            (f"runner slowdown, {workers} at once: runner in {workers} process(es) − runner alone",
             lambda s, r: par(s, r) - r if s.get("par") is not None else None),
            ("in-task overhead: claim → finished − runner (in parallel where measured)",
             lambda s, r: s["in_task"] - par(s, r)),
            (f"gap: task finished → next claim, same worker (pusher polls every {poll:g} s)", lambda s, r: s["gap"]),
            ("= sum ≈ overhead per database", lambda s, r: s["in_task"] - r + s["gap"]),
            ("measured overhead per database (wall × workers / N − runner alone)",
             lambda s, r: s["wall"] * workers / s["tasks"] - r),
        ]
        for label, fn in rows:
            vals = []
            for c in cols:
                s, r = stages.get(c), runner.get(c)
                try:
                    v = fn(s, r)
                except (TypeError, KeyError):
                    v = None
                vals.append(f"{'-':>9}" if v is None else f"{v * 1000:>9.1f}")
            lines.append(f"    {label:<74} " + " ".join(vals))
    return lines


# ---------------------------------------------------------------------------------------------
# report


def print_report(res: Results, header: list[str], args, profile_lines: list[str]) -> None:
    print()
    for line in header:
        print(line)
    width = max([len(r[0]) for r in res.rows.values() if r[0]] + [60])
    print()
    print(f"  {'measurement':<{width}} {'value':>9} {'unit':<6} note")
    print(f"  {'-' * width} {'-' * 9} {'-' * 6} ----")
    for label, unit, samples, note in res.rows.values():
        if not label:
            continue
        best = min(samples) if samples else None
        if len(samples) > 1:
            note = (f"[best of {len(samples)}: " + ", ".join(shown(s, unit) for s in samples) + "] " + note).strip()
        print(f"  {label:<{width}} {shown(best, unit):>9} {unit:<6} {note}")

    verdicts: list[tuple[str, str, str, bool | None]] = []
    for key, name in (("sqlite", "SQLite"), ("pg", "PostgreSQL")):
        over = res.best(f"{key}.overhead_busy")
        if over is not None:
            verdicts.append((f"{name}: worker overhead per database (workers' busy time − the runner's own time)",
                             f"{over * 1000:.1f} ms", f"<= {OVERHEAD_TARGET_MS:g} ms", over * 1000 <= OVERHEAD_TARGET_MS))
        over = res.best(f"{key}.overhead_own")
        if over is not None:
            # info: wall-based, so it also counts the create_release() call and the workers left
            # with nothing to do while the stage's last task runs (up to one task × (workers−1) / N)
            verdicts.append((f"{name}: same, from wall × workers / N, call and end-of-stage idle included (info)",
                             f"{over * 1000:.1f} ms", "", None))
        over = res.best(f"{key}.overhead")
        if over is not None:
            # info: on 2 cores two runners at once are slower than one alone, and this counts that too
            verdicts.append((f"{name}: same, vs the runner alone, sequentially in one process (info)",
                             f"{over * 1000:.1f} ms", "", None))
        over = res.best(f"{key}.overhead_parallel")
        if over is not None:
            # info only: the parallel sample is small and this machine's disk makes it noisy
            verdicts.append((f"{name}: same, vs the runner alone in {args.workers} process(es) at once (info)",
                             f"{over * 1000:.1f} ms", "", None))
        over = res.best(f"{key}.re.overhead")
        if over is not None:
            verdicts.append((f"{name}: re-deploy overhead per database (info)", f"{over * 1000:.1f} ms", "", None))
    wall = res.best("sqlite.re.wall")
    if wall is not None:
        target = REDEPLOY_TARGET_S * args.sqlite / 100
        verdicts.append((f"SQLite: re-deploy of {args.sqlite} up-to-date databases", f"{wall:.2f} s",
                         f"<= {target:g} s", wall <= target))
    wall = res.best("pg.re.wall")
    if wall is not None:
        verdicts.append((f"PostgreSQL: re-deploy of {args.pg} up-to-date databases (info)", f"{wall:.2f} s", "", None))
    for label, value, ok in res.checks.values():
        verdicts.append((label, value, "all", ok))
    print()
    vw = max(len(v[0]) for v in verdicts) if verdicts else 60
    print(f"  {'target / check':<{vw}} {'value':>10}  {'target':<10} result")
    print(f"  {'-' * vw} {'-' * 10}  {'-' * 10} ------")
    for label, value, target, ok in verdicts:
        print(f"  {label:<{vw}} {value:>10}  {target:<10} {'' if ok is None else ('PASS' if ok else 'FAIL')}")
    if profile_lines:
        print()
        print("  where a task's time goes (profile)")
        for line in profile_lines:
            print(line)
    if res.notes:
        print()
        for note in res.notes:
            print(f"  note: {note}")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", type=int, default=100, help="SQLite target databases (default 100, 0 to skip)")
    parser.add_argument("--pg", type=int, default=20, help="PostgreSQL target databases (default 20, 0 to skip)")
    parser.add_argument("--files", type=int, default=200, help="migration files in the release (default 200)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help=f"django-q2 worker processes = the stage's concurrency (default {os.cpu_count()})")
    parser.add_argument("--control", choices=("sqlite", "postgres"), default="sqlite",
                        help="control database: a fresh SQLite file (default) or a throwaway PostgreSQL database")
    parser.add_argument("--profile", type=int, default=10,
                        help="SQLite databases for the in-process profile of run_task (default 10, 0 to skip)")
    parser.add_argument("--poll", type=float, default=None,
                        help="experiment: run with django-q2's poll interval set to this many seconds (a settings "
                             "module in the temp folder that wraps gitops.settings); default: the project's")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (fresh targets each); best reported (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and the PostgreSQL databases")
    parser.add_argument("--pg-url", default=PG_DEFAULT,
                        help="PostgreSQL server without a database (default postgresql://postgres@127.0.0.1:5432, "
                             "or $SLUICE_BENCH_PG)")
    args = parser.parse_args(argv)
    for name in ("sqlite", "pg", "profile"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be 0 or more")
    if args.files < 1 or args.workers < 1 or args.repeat < 1:
        parser.error("--files, --workers and --repeat must be at least 1")
    if not MANAGE.exists():
        parser.error(f"no manage.py at {MANAGE}: bench/rollout.py must stay in the project's bench/ folder")

    def stop(signum, _frame):  # SIGTERM/SIGHUP: unwind through the finally below
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)

    need_pg = args.pg > 0 or args.control == "postgres"
    pg = Postgres(args.pg_url, keep=args.keep)
    work = Path(tempfile.mkdtemp(prefix="sluice_bench_rollout_")).resolve()
    res = Results()
    cluster: Cluster | None = None
    profile_lines: list[str] = []
    try:
        pg_version = ""
        if need_pg:
            try:
                pg_version = pg.version()
            except Exception as exc:
                raise BenchError(f"PostgreSQL at {args.pg_url} is not reachable ({exc}): use --pg 0") from None
        if args.control == "postgres":
            control_url = pg.url(pg.create(["control"])[0])
        else:
            control_url = f"sqlite:///{work / 'control.sqlite3'}"
        settings_module = "gitops.settings"
        if args.poll is not None:
            (work / "sluice_bench_settings.py").write_text(
                "from gitops.settings import *  # noqa: F401,F403\n"
                "from gitops.settings import Q_CLUSTER\n\n"
                f"Q_CLUSTER = {{**Q_CLUSTER, 'poll': {args.poll!r}}}\n", encoding="utf-8")
            settings_module = "sluice_bench_settings"
            sys.path.insert(0, str(work))
        env = {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(work), str(ROOT), os.environ.get("PYTHONPATH", "")])),
            "DATABASE_URL": control_url,
            "SLUICE_WORKERS": str(args.workers),
            "SLUICE_VAR_DIR": str(work),
            "SLUICE_BROKER": "orm",
            "DEBUG": "False",  # as in production: no query log in the worker
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-rollout-" + "x" * 40,  # (DEBUG off needs one)
            "PYTHONUNBUFFERED": "1",
        }
        os.environ.update(env)
        full_env = dict(os.environ)
        log(f"control database {control_url}: migrate")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(MANAGE), "migrate", "--noinput", "--skip-checks"], cwd=ROOT,
                              env=full_env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"manage.py migrate failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
        res.note(f"setup: manage.py migrate of the control database took {time.perf_counter() - start:.1f} s")

        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        import logging

        logging.getLogger("django-q").setLevel(logging.WARNING)  # no line per async_task here
        from django_q.conf import Conf

        from releases.loader import load_files
        from releases.runner.adapters import postgres as _pg_adapter  # noqa: F401 (imported outside timing)
        from releases.runner.adapters import sqlite as _sqlite_adapter  # noqa: F401

        files = generate(args.files)
        migrations = load_files(files)
        statements = sum(4 + (i % 4 == 0) for i in range(1, args.files + 1))
        log(f"generated {args.files} migration files ({statements} statements)")

        # Warm the runner in this process (imports, the statement splitter) outside any timing.
        from releases.runner import ApplyOptions, apply

        apply(f"sqlite:///{work / 'warm.sqlite3'}", migrations[:3], ApplyOptions())

        cluster = Cluster(full_env, work / "qcluster.log", args.workers)
        log(f"starting manage.py qcluster with {args.workers} worker(s)")
        res.note(f"setup: qcluster ready in {cluster.start():.1f} s")

        # Warm-up rollouts: each worker process imports releases.tasks and the splitter on its
        # first task; a long-running worker has done so long ago. Until every worker ran a task.
        from releases import services
        from releases.models import Task

        seen: set[str] = set()
        for attempt in range(1, 4):
            urls = sqlite_urls(work / f"warmup-{attempt}", 2 * args.workers)
            project = make_project(f"bench-warmup-{attempt}", urls, args.workers)

            def warm(project=project):
                release, _ = services.create_release(project, commit=secrets.token_hex(20), files=files[:3])
                return release.rollouts.get()

            st = measure(warm, cluster, 120)
            seen |= set(Task.objects.filter(stage__rollout_id=st["rollout"]).values_list("worker", flat=True))
            if len(seen) >= args.workers:
                break
        res.note(f"setup: warm-up rollouts of 3 files until every worker ran a task ({attempt} rollout(s), "
                 f"{len(seen)} worker process(es) seen); not timed")

        for round_ in range(1, args.repeat + 1):
            if args.repeat > 1:
                log(f"round {round_} of {args.repeat}")
            if args.sqlite:
                folder = work / f"round-{round_}"
                urls = sqlite_urls(folder / "targets", args.sqlite)
                n_sample = min(RUNNER_SAMPLE["sqlite"], args.sqlite)
                sample = sqlite_urls(folder / "runner", n_sample)
                psample = sqlite_urls(folder / "runner-parallel", parallel_sample(n_sample, args.workers))
                project = make_project(f"bench-sqlite-r{round_}", urls, args.workers)
                run_engine(res, key="sqlite", name="SQLite", engine="sqlite", urls=urls, sample=sample,
                           psample=psample, files=files,
                           migrations=migrations, project=project, workers=args.workers, cluster=cluster,
                           round_=round_)
            if args.pg:
                n_sample = min(RUNNER_SAMPLE["postgres"], args.pg)
                n_par = parallel_sample(n_sample, args.workers)
                log(f"  [PostgreSQL] creating {args.pg} + {n_sample} + {n_par} databases")
                names = pg.create([f"r{round_}_{i:02d}" for i in range(1, args.pg + 1)]
                                  + [f"r{round_}_runner_{i}" for i in range(1, n_sample + 1)]
                                  + [f"r{round_}_parallel_{i}" for i in range(1, n_par + 1)])
                urls = [pg.url(n) for n in names[:args.pg]]
                sample = [pg.url(n) for n in names[args.pg:args.pg + n_sample]]
                psample = [pg.url(n) for n in names[args.pg + n_sample:]]
                project = make_project(f"bench-pg-r{round_}", urls, args.workers)
                run_engine(res, key="pg", name="PostgreSQL", engine="postgres", urls=urls, sample=sample,
                           psample=psample, files=files, migrations=migrations, project=project, workers=args.workers,
                           cluster=cluster, round_=round_)
                if round_ < args.repeat:
                    pg.drop(names)

        if args.profile:
            log(f"profile: run_task in this process on {args.profile} SQLite database(s)")
            urls = sqlite_urls(work / "profile", args.profile)
            project = make_project("bench-profile", urls, args.workers)
            prof = profile_run(project, files, args.workers)
            writes = prof["redeploy"]["queries"].get("history mirror (_mirror): writes", [0, 0.0])[0]
            res.check("profile.mirror", "profile: re-deploy's history mirror writes nothing", f"{writes} writes",
                      writes == 0)
            stages, runner = {}, {}
            if args.sqlite:
                last = {k: v[2][-1] for k, v in res.rows.items() if v[2]}  # the last round's values
                n = args.sqlite
                for col, prefix, rkey in (("apply", "sqlite", "sqlite.runner"), ("redeploy", "sqlite.re", "sqlite.runner_rerun")):
                    stages[col] = {"in_task": last.get(f"{prefix}.in_task"), "gap": last.get(f"{prefix}.gap"),
                                   "wall": last.get(f"{prefix}.wall"), "tasks": n,
                                   "par": last.get("sqlite.runner_parallel") if col == "apply" else None}
                    runner[col] = last.get(rkey)
            profile_lines = profile_table(prof, stages, runner, args.workers, Conf.POLL)

        res.note("per database = wall × workers / N: the cost of one database when `workers` tasks run at once; "
                 "worker overhead = that − the runner alone (section 1: apply() in this process, sequentially, "
                 "on fresh databases of the same engine). The runner's own time inside the worker is not in the "
                 "rows: `runner file time` is the TaskRun outcomes' duration_ms (statements + history row per "
                 "file, without connect, lock and history reads)")
        res.note("rows: gap = Task.finished_at → the same worker's next claim (Task.started_at): the end of the "
                 "task's transaction, django-q2's result, the pusher's dequeue of the task the end queued, the claim. "
                 "Wall ends at Rollout.finished_at (set by the last task's advance)")
        header = [
            f"Sluice rollout bench: {args.files} files ({statements} statements) → {args.sqlite} SQLite + {args.pg} "
            f"PostgreSQL databases, one automatic stage each, {args.workers} worker process(es) = concurrency",
            f"django-q2 {importlib.metadata.version('django-q2')} ORM broker (poll {Conf.POLL:g} s, queue_limit "
            f"{Conf.QUEUE_LIMIT}{', --poll experiment' if args.poll is not None else ''}), control database {args.control}, PostgreSQL {pg_version or 'n/a'}, "
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; best of {args.repeat}",
        ]
        print_report(res, header, args, profile_lines)
        failed = [c for c in res.checks.values() if not c[2]]
        return 1 if failed else 0
    except BenchError as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        if res.rows:
            print_report(res, ["(partial results)"], args, profile_lines)
        return 1
    finally:
        if cluster is not None:
            cluster.stop()
        if "django" in sys.modules:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
        if args.keep:
            print(f"\n--keep: PostgreSQL databases kept: {', '.join(pg.created) or 'none'}; files kept in {work}")
        else:
            with contextlib.suppress(Exception):
                pg.drop_all()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
