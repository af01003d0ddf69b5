from __future__ import annotations

import json

from releases.management.commands._runner import RunnerCommand
from releases.runner import history


class Command(RunnerCommand):
    help = "Show what a database has applied (its sluice_schema_history)."

    def add_arguments(self, parser) -> None:
        self.add_target_argument(parser)
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options) -> None:
        self.guarded(lambda: self._history(options))

    def _history(self, options: dict) -> None:
        rows = history(self.target(options["target"]))
        if options["format"] == "json":
            self.say(json.dumps([row.as_dict() for row in rows], indent=2, default=str))
            return
        if not rows:
            self.say("No migration history.")
            return
        self.say(f"{'version':<16} {'status':<9} {'done':>9}  {'applied at':<26} {'ms':>7}  description")
        for row in rows:
            done = f"{row.statements_done}/{row.statements_total}"
            self.say(f"{row.version:<16} {row.status:<9} {done:>9}  {str(row.applied_at):<26} "
                     f"{row.duration_ms:>7}  {row.description}")
            if row.error:
                self.say(f"{'':<16} error: {row.error}")
