"""Rotating the key that encrypts target-database passwords (releases/crypto.py, `manage.py reencrypt`)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from releases.models import Database, Environment, Project
from tests.helpers import manage

K1, K2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def env(db):
    return Environment.objects.create(project=Project.objects.create(slug="shop", name="Shop"), slug="prod")


def _database(env: Environment, name: str, password: str) -> Database:
    database = Database(environment=env, name=name, url=f"postgresql://app@db.example:5432/{name}")
    database.set_password(password)
    database.save()
    return database


def _stored(name: str) -> str:
    return Database.objects.get(name=name).password_encrypted


def _password(name: str) -> str | None:
    return Database.objects.get(name=name).password()


def test_a_new_key_listed_first_reads_the_old_passwords_and_reencrypt_moves_them(env, settings, capsys):
    settings.SLUICE_ENCRYPTION_KEY = K1
    _database(env, "a", "pw-a")
    _database(env, "b", "pw-b")
    settings.SLUICE_ENCRYPTION_KEY = f"{K2},{K1}"
    assert (_password("a"), _password("b")) == ("pw-a", "pw-b")  # the old key still decrypts
    _database(env, "c", "pw-c")  # and a new password is encrypted with the new one
    before = {n: _stored(n) for n in "abc"}

    call_command("reencrypt", "--dry-run")
    assert "would re-encrypt 2 password(s); 1 already under the current key" in capsys.readouterr().out
    assert {n: _stored(n) for n in "abc"} == before

    call_command("reencrypt")
    assert "re-encrypted 2 password(s); 1 already under the current key" in capsys.readouterr().out
    settings.SLUICE_ENCRYPTION_KEY = K2  # the old key can go now
    assert (_password("a"), _password("b"), _password("c")) == ("pw-a", "pw-b", "pw-c")
    call_command("reencrypt")
    assert "re-encrypted 0 password(s); 3 already under the current key" in capsys.readouterr().out


def test_a_rotated_secret_key_in_the_fallbacks_keeps_the_derived_key_passwords(env, settings):
    settings.SLUICE_ENCRYPTION_KEY = ""
    _database(env, "a", "pw-a")  # under the key derived from SECRET_KEY
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-" + "x" * 40, [old]
    assert _password("a") == "pw-a"
    call_command("reencrypt")
    settings.SECRET_KEY_FALLBACKS = []
    assert _password("a") == "pw-a"


def test_setting_an_explicit_key_for_the_first_time_keeps_the_derived_key_passwords(env, settings):
    settings.SLUICE_ENCRYPTION_KEY = ""
    _database(env, "a", "pw-a")
    settings.SLUICE_ENCRYPTION_KEY = K1
    assert _password("a") == "pw-a"
    call_command("reencrypt")
    settings.SECRET_KEY = "another-secret-key-" + "y" * 40  # no longer needed to read it
    assert _password("a") == "pw-a"


def test_a_password_no_key_decrypts_is_named_and_left_as_it_is(env, settings, capsys):
    settings.SLUICE_ENCRYPTION_KEY = K1
    _database(env, "lost", "pw")
    _database(env, "kept", "pw-kept")
    lost = _stored("lost")
    settings.SLUICE_ENCRYPTION_KEY = f"{K2},{K1}"
    call_command("reencrypt")  # moves both to K2
    Database.objects.filter(name="lost").update(password_encrypted=lost)  # as if restored from an old backup
    settings.SLUICE_ENCRYPTION_KEY = K2
    with pytest.raises(CommandError, match=r"1 password\(s\) no configured key decrypts, left as they are: lost"):
        call_command("reencrypt")
    assert _stored("lost") == lost
    assert _password("kept") == "pw-kept"
    with pytest.raises(ValueError, match="SECRET_KEY_FALLBACKS"):
        _password("lost")


def test_every_key_of_the_list_is_checked_at_start():
    result = manage("check", env={"SLUICE_ENCRYPTION_KEY": f"{K1},not-a-fernet-key"})
    assert result.returncode != 0
    assert "SLUICE_ENCRYPTION_KEY is not a Fernet key or a comma-separated list of them" in result.stderr
    assert "not-a-fernet-key" not in result.stderr and K1 not in result.stderr
    assert manage("check", env={"SLUICE_ENCRYPTION_KEY": f"{K2}, {K1}"}).returncode == 0
