"""Encryption at rest for secrets Botyard must be able to read back (GroupMe bot ids, access tokens, callback tokens).

Fernet (AES-128-CBC + HMAC-SHA256) with FIELD_ENCRYPTION_KEY; several comma-separated keys allow rotation: the
first encrypts, all decrypt.
"""

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(plaintext: str) -> str:
    return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Plaintext in Python, ciphertext in the database. Cannot be filtered on: store a hash beside it for lookups."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None or value == "" else encrypt(value)
