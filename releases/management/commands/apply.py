from __future__ import annotations

from releases.management.commands._runner import RunnerCommand
from releases.runner import ApplyOptions, FileOutcome, apply


class Command(RunnerCommand):
    help = "Apply the migration files of a folder to one database, skipping what it already has."

    def add_arguments(self, parser) -> None:
        self.add_target_argument(parser)
        self.add_dir_argument(parser)
        parser.add_argument("--dry-run", action="store_true", help="print the plan and statements; change nothing")
        parser.add_argument("--baseline", metavar="V", help="first mark the database as having everything up to V")
        parser.add_argument("--allow-out-of-order", action="store_true")
        parser.add_argument("--lock-wait", type=float, default=300.0, metavar="SECONDS",
                            help="how long to wait for another run's lock (default 300)")
        parser.add_argument("--release", default=None, help="release id to record in the history")

    def handle(self, *args, **options) -> None:
        self.guarded(lambda: self._apply(options))

    def _apply(self, options: dict) -> None:
        target = self.target(options["target"])
        files = self.files(options["dir"])
        dry = options["dry_run"]
        self.say(f"{'Plan for' if dry else 'Applying to'} {target.redacted}: {len(files)} migration file(s)")
        report = apply(
            target,
            files,
            ApplyOptions(
                dry_run=dry,
                allow_out_of_order=options["allow_out_of_order"],
                baseline=options["baseline"],
                release_id=options["release"],
                lock_wait_seconds=options["lock_wait"],
                on_event=self._event,
            ),
        )
        for warning in report.warnings:
            self.say(f"warning: {warning}", self.style.WARNING)
        counts = {}
        for outcome in report.outcomes:
            counts[outcome.action] = counts.get(outcome.action, 0) + 1
        parts = [f"{n} {action}" for action, n in counts.items()] or ["nothing to do"]
        self.say(f"{'Dry run' if dry else 'Done'}: {', '.join(parts)} in {report.duration_ms / 1000:.2f}s",
                 self.style.SUCCESS)

    def _event(self, kind: str, data) -> None:
        if kind == "start":
            mf, total = data
            self.say(f"  → {mf.path}: applying {total} statement(s)…")
        elif kind == "plan":
            mf, statements = data
            self.say(f"  {mf.path}: would apply {len(statements)} statement(s)"
                     f"{'' if mf.directives.transaction else ' (transaction off)'}")
            for stmt in statements:
                self.say(f"    -- line {stmt.line}\n    {stmt.text.replace(chr(10), chr(10) + '    ')};")
        elif kind == "file":
            self._outcome(data)

    def _outcome(self, o: FileOutcome) -> None:
        if o.action == "applied":
            rows = f", {o.rows} row(s)" if o.rows is not None else ""
            note = f" ({o.reason})" if o.reason else ""
            self.say(f"  ✓ {o.path}: applied {o.statements} statement(s) in {o.duration_ms} ms{rows}{note}",
                     self.style.SUCCESS)
        elif o.action == "skipped":
            self.say(f"  · {o.path}: skipped ({o.reason})")
