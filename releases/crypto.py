"""Encryption of target-database passwords at rest (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    key = settings.SLUICE_ENCRYPTION_KEY
    if not key:
        digest = hashlib.sha256(b"sluice-password-encryption:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "the stored password cannot be decrypted: SECRET_KEY or SLUICE_ENCRYPTION_KEY changed"
        ) from exc
