"""`manage.py reencrypt`: every stored target-database password encrypted again with the current key.

Run it after rotating the key (releases/crypto.py): put the new key first in SLUICE_ENCRYPTION_KEY
(or set a new SECRET_KEY with the old one in SECRET_KEY_FALLBACKS), run this, then drop the old key.
A password that no configured key decrypts is left as it is and named (exit 1): set it again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from releases import crypto
from releases.models import Database


class Command(BaseCommand):
    help = "Encrypt every stored target-database password again with the current key (after a key rotation)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would change, change nothing")

    def handle(self, *args, dry_run: bool, **options) -> None:
        moved, current, unreadable = 0, 0, []
        with transaction.atomic():
            for database in Database.objects.select_for_update().exclude(password_encrypted="").order_by("pk"):
                if crypto.current(database.password_encrypted):
                    current += 1
                    continue
                try:
                    rotated = crypto.rotate(database.password_encrypted)
                except ValueError:
                    unreadable.append(database.name)
                    continue
                moved += 1
                if not dry_run:
                    # (update(): no save() side effects, and the password itself is never decrypted here.)
                    Database.objects.filter(pk=database.pk).update(password_encrypted=rotated)
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"{verb} {moved} password(s); {current} already under the current key")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} password(s) no configured key decrypts, left as they are: "
                f"{', '.join(unreadable)} (add the old key, or set these passwords again in the admin)"
            )
