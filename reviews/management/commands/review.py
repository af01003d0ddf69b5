"""`manage.py review …` goes straight to reviews/cli.py without starting Django (see manage.py);
this class serves `call_command("review", …)` and `manage.py help review`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reviews import cli


class Command(BaseCommand):
    help = cli.HELP
    requires_system_checks: list = []  # a template policy needs no control database

    def add_arguments(self, parser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        def write(stream):
            return lambda text: (stream.write(text), stream.flush())

        code = cli.execute(options, write(self.stdout), write(self.stderr))
        if code:
            raise CommandError("review failed" if code != cli.EXIT_BLOCKING else "blocking findings",
                               returncode=code)
