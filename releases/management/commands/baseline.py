from __future__ import annotations

from releases.management.commands._runner import RunnerCommand
from releases.runner import baseline


class Command(RunnerCommand):
    help = "Mark an existing database as having every migration up to a version."

    def add_arguments(self, parser) -> None:
        self.add_target_argument(parser)
        parser.conflict_handler = "resolve"  # our --version is the migration's, not Django's
        parser.add_argument("--version", dest="migration_version", required=True, metavar="V")
        self.add_dir_argument(parser, required=False)

    def handle(self, *args, **options) -> None:
        self.guarded(lambda: self.say(
            baseline(self.target(options["target"]), options["migration_version"], self.files(options["dir"])),
            self.style.SUCCESS,
        ))
