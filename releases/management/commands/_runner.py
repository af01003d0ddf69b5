"""Management commands that wrap the runner's Django-free command line (releases/runner/cli.py).

`manage.py apply …` goes straight to that module without starting Django (see manage.py);
these classes serve `call_command(...)` and `manage.py help apply`.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from releases.runner import cli


def runner_command(name: str) -> type[BaseCommand]:
    spec = cli.COMMANDS[name]

    class Command(BaseCommand):
        help = spec.help
        requires_system_checks: list = []  # the runner needs no control database

        def add_arguments(self, parser) -> None:
            spec.add_arguments(parser)

        def handle(self, *args, **options) -> None:
            def write(stream):
                return lambda text: (stream.write(text), stream.flush())

            code = cli.execute(name, options, write(self.stdout), write(self.stderr))
            if code:
                raise CommandError(f"{name} failed", returncode=code)

    return Command
