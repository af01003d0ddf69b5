"""Encryption of target-database passwords at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key is SLUICE_ENCRYPTION_KEY, or one derived from SECRET_KEY. Keys rotate: SLUICE_ENCRYPTION_KEY
may list several (the first encrypts, all decrypt), and the keys derived from SECRET_KEY and from
Django's SECRET_KEY_FALLBACKS decrypt too, so that neither setting an explicit key for the first
time nor rotating SECRET_KEY makes a stored password unreadable. `manage.py reencrypt` moves every
stored password to the current key (`rotate`).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _derived(secret: str) -> str:
    digest = hashlib.sha256(b"sluice-password-encryption:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _keys() -> list[str]:
    """The keys, the one that encrypts first."""
    given = [k.strip() for k in (settings.SLUICE_ENCRYPTION_KEY or "").split(",") if k.strip()]
    derived = [_derived(s) for s in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())) if s]
    return list(dict.fromkeys(given + derived))


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "the stored password cannot be decrypted: SECRET_KEY or SLUICE_ENCRYPTION_KEY changed (keep the "
            "old key in SLUICE_ENCRYPTION_KEY after the new one, or the old SECRET_KEY in SECRET_KEY_FALLBACKS)"
        ) from exc


def rotate(token: str) -> str:
    """The token encrypted again with the current key (ValueError if no key decrypts it)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("no configured key decrypts it") from exc


def current(token: str) -> bool:
    """Whether the current (first) key decrypts the token: nothing to re-encrypt."""
    try:
        Fernet(_keys()[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True
