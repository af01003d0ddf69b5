from __future__ import annotations

from releases.management.commands._runner import RunnerCommand
from releases.runner import repair
from releases.runner.core import REPAIR_ACTIONS


class Command(RunnerCommand):
    help = "Repair one history row: resume a partial file, or mark it applied or pending."

    def add_arguments(self, parser) -> None:
        self.add_target_argument(parser)
        parser.conflict_handler = "resolve"  # our --version is the migration's, not Django's
        parser.add_argument("--version", dest="migration_version", required=True, metavar="V")
        parser.add_argument("action", choices=REPAIR_ACTIONS)
        self.add_dir_argument(parser, required=False)

    def handle(self, *args, **options) -> None:
        self.guarded(lambda: self._repair(options))

    def _repair(self, options: dict) -> None:
        target = self.target(options["target"])
        if options["action"] == "resume" and not options["dir"]:
            self.fail("error: resume needs --dir: the statements come from the file", 2)
        message = repair(target, options["migration_version"], options["action"], self.files(options["dir"]))
        self.say(message, self.style.SUCCESS)
