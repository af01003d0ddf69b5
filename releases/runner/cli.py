"""The runner's command line: `apply`, `history`, `repair`, `baseline` (design.md §3, §6).

No Django here: `manage.py` hands these commands straight to `main()` so that a re-run with
nothing to do costs Python's start-up and one history query, not Django's start-up too. The
management commands of the same names wrap the same functions (for `call_command`, `help`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable

from releases.loader import LoadError, load_dir
from releases.runner.adapters.base import ConnectError
from releases.runner.core import (
    REPAIR_ACTIONS,
    ApplyError,
    ApplyOptions,
    FileOutcome,
    HistoryError,
    LockTimeout,
    PlanError,
    apply,
    baseline,
    history,
    repair,
)
from releases.runner.target import TargetError, parse_target

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_SERVER = 0, 1, 2, 3

Write = Callable[[str], None]


class UsageError(Exception):
    pass


def _stream_writer(stream) -> Write:
    def write(text: str) -> None:
        stream.write(text + "\n")
        stream.flush()  # progress must show as it happens, also through a pipe

    return write


# -- arguments -------------------------------------------------------------------------------


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, help="postgresql://…, mysql://… or sqlite:///path")


def _version(parser: argparse.ArgumentParser) -> None:
    parser.conflict_handler = "resolve"  # under Django, --version is Django's own; here it is the migration's
    parser.add_argument("--version", dest="migration_version", required=True, metavar="V",
                        help="the migration version")


def apply_arguments(parser: argparse.ArgumentParser) -> None:
    _target(parser)
    parser.add_argument("--dir", required=True, help="the migrations folder")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and statements; change nothing")
    parser.add_argument("--baseline", metavar="V", help="first mark the database as having everything up to V")
    parser.add_argument("--allow-out-of-order", action="store_true",
                        help="apply pending versions older than the newest applied one")
    parser.add_argument("--lock-wait", type=float, default=300.0, metavar="SECONDS",
                        help="how long to wait for another run's lock (default 300)")
    parser.add_argument("--release", default=None, help="release id to record in the history")


def history_arguments(parser: argparse.ArgumentParser) -> None:
    _target(parser)
    parser.add_argument("--format", choices=["text", "json"], default="text")


def repair_arguments(parser: argparse.ArgumentParser) -> None:
    _target(parser)
    _version(parser)
    parser.add_argument("action", choices=REPAIR_ACTIONS)
    parser.add_argument("--dir", help="the migrations folder (needed by resume)")


def baseline_arguments(parser: argparse.ArgumentParser) -> None:
    _target(parser)
    _version(parser)
    parser.add_argument("--dir", help="the migrations folder (to record the version's description)")


# -- commands --------------------------------------------------------------------------------


def _version_arg(text: str | None) -> str | None:
    """A version typed on the command line, in the files' form: `V1.2` → `1.2` (as in file names)."""
    if text is None:
        return None
    match = re.fullmatch(r"[vV]?(\d+(?:\.\d+)*)", text.strip())
    if match is None:
        raise UsageError(f"bad version {text!r}: expected numbers separated by dots, e.g. 202501150900 or 1.2")
    return match.group(1)


def run_apply(opts: dict, out: Write) -> None:
    target = parse_target(opts["target"])
    files = load_dir(opts["dir"])
    dry = opts.get("dry_run", False)
    out(f"{'Plan for' if dry else 'Applying to'} {target.redacted}: {len(files)} migration file(s)")
    report = apply(
        target,
        files,
        ApplyOptions(
            dry_run=dry,
            allow_out_of_order=opts.get("allow_out_of_order", False),
            baseline=_version_arg(opts.get("baseline")),
            release_id=opts.get("release"),
            lock_wait_seconds=opts.get("lock_wait", 300.0),
            on_event=lambda kind, data: _print_event(out, kind, data),
        ),
    )
    for warning in report.warnings:
        out(f"warning: {warning}")
    counts: dict[str, int] = {}
    for outcome in report.outcomes:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
    parts = [f"{n} {action}" for action, n in counts.items()] or ["nothing to do"]
    out(f"{'Dry run' if dry else 'Done'}: {', '.join(parts)} in {report.duration_ms / 1000:.2f}s")


def _print_event(out: Write, kind: str, data) -> None:
    if kind == "start":
        mf, total = data
        out(f"  → {mf.path}: applying {total} statement(s)…")
    elif kind == "plan":
        mf, statements = data
        mode = "" if mf.directives.transaction else " (transaction off)"
        out(f"  {mf.path}: would apply {len(statements)} statement(s){mode}")
        for stmt in statements:
            body = stmt.text.replace("\n", "\n    ")
            out(f"    -- line {stmt.line}\n    {body};")
    elif kind == "file":
        _print_outcome(out, data)


def _print_outcome(out: Write, o: FileOutcome) -> None:
    if o.action == "applied":
        rows = f", {o.rows} row(s)" if o.rows is not None else ""
        note = f" ({o.reason})" if o.reason else ""
        out(f"  ✓ {o.path}: applied {o.statements} statement(s) in {o.duration_ms} ms{rows}{note}")
    elif o.action == "skipped":
        out(f"  · {o.path}: skipped ({o.reason})")


def run_history(opts: dict, out: Write) -> None:
    rows = history(parse_target(opts["target"]))
    if opts.get("format") == "json":
        out(json.dumps([row.as_dict() for row in rows], indent=2, default=str))
        return
    if not rows:
        out("No migration history.")
        return
    out(f"{'version':<16} {'status':<9} {'done':>9}  {'applied at':<25} {'ms':>7}  description")
    for row in rows:
        done = f"{row.statements_done}/{row.statements_total}"
        out(f"{row.version:<16} {row.status:<9} {done:>9}  {str(row.applied_at):<25} "
            f"{row.duration_ms:>7}  {row.description}")
        if row.error:
            out(f"{'':<16} error: {row.error}")


def run_repair(opts: dict, out: Write) -> None:
    target = parse_target(opts["target"])
    if opts["action"] == "resume" and not opts.get("dir"):
        raise UsageError("resume needs --dir: the statements come from the file")
    files = load_dir(opts["dir"]) if opts.get("dir") else []
    out(repair(target, _version_arg(opts["migration_version"]), opts["action"], files,
               on_event=lambda kind, data: _print_event(out, kind, data)))


def run_baseline(opts: dict, out: Write) -> None:
    target = parse_target(opts["target"])
    files = load_dir(opts["dir"]) if opts.get("dir") else []
    out(baseline(target, _version_arg(opts["migration_version"]), files))


@dataclasses.dataclass(frozen=True)
class CommandSpec:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[dict, Write], None]


COMMANDS = {
    "apply": CommandSpec("Apply the migration files of a folder to one database, skipping what it has.",
                         apply_arguments, run_apply),
    "history": CommandSpec("Show what a database has applied (its sluice_schema_history).",
                           history_arguments, run_history),
    "repair": CommandSpec("Repair one history row: resume a partial file, or mark it applied or pending.",
                          repair_arguments, run_repair),
    "baseline": CommandSpec("Mark an existing database as having every migration up to a version.",
                            baseline_arguments, run_baseline),
}


def execute(name: str, opts: dict, out: Write, err: Write) -> int:
    """Run one command; the runner's exceptions become a located message and an exit code."""
    try:
        COMMANDS[name].run(opts, out)
    except (TargetError, UsageError) as exc:
        err(f"error: {exc}")
        return EXIT_INPUT
    except LoadError as exc:
        err(f"error: invalid migration files, nothing applied:\n{exc}")
        return EXIT_INPUT
    except ConnectError as exc:
        err(f"error: {exc}")
        return EXIT_SERVER
    except (PlanError, ApplyError, LockTimeout, HistoryError) as exc:
        err(f"error: {exc}")
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str], prog: str = "manage.py") -> int:
    """`main(["apply", "--target", …])`; argparse exits 2 on bad usage by itself."""
    name, rest = argv[0], argv[1:]
    spec = COMMANDS[name]
    parser = argparse.ArgumentParser(prog=f"{prog} {name}", description=spec.help)
    spec.add_arguments(parser)
    opts = vars(parser.parse_args(rest))
    return execute(name, opts, _stream_writer(sys.stdout), _stream_writer(sys.stderr))
