"""What the runner commands share: target and folder arguments, printing, exit codes (design §6)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.core.management.base import BaseCommand

from releases.loader import LoadError, load_dir
from releases.runner import ApplyError, LockTimeout, PlanError, TargetError, parse_target
from releases.runner.adapters.base import ConnectError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_SERVER = 0, 1, 2, 3


class RunnerCommand(BaseCommand):
    requires_system_checks: list = []  # the runner needs no control database

    def add_target_argument(self, parser) -> None:
        parser.add_argument("--target", required=True, help="postgresql://…, mysql://… or sqlite:///path")

    def add_dir_argument(self, parser, required: bool = True) -> None:
        parser.add_argument("--dir", required=required, help="the migrations folder")

    def say(self, text: str = "", style: Callable[[str], str] | None = None) -> None:
        self.stdout.write(style(text) if style else text)
        self.stdout.flush()

    def fail(self, text: str, code: int) -> None:
        self.stderr.write(text)
        self.stderr.flush()
        sys.exit(code)

    def guarded(self, action: Callable[[], None]) -> None:
        """Run `action`, turning the runner's exceptions into a located message and an exit code."""
        try:
            action()
        except TargetError as exc:
            self.fail(f"error: --target: {exc}", EXIT_INPUT)
        except LoadError as exc:
            self.fail(f"error: invalid migration files, nothing applied:\n{exc}", EXIT_INPUT)
        except ConnectError as exc:
            self.fail(f"error: {exc}", EXIT_SERVER)
        except (PlanError, ApplyError, LockTimeout) as exc:
            self.fail(f"error: {exc}", EXIT_FAILED)

    @staticmethod
    def target(url: str):
        return parse_target(url)

    @staticmethod
    def files(directory: str | None):
        return load_dir(directory) if directory else []
