"""Secrets carried in URLs that a third party calls (GroupMe callbacks, conversion postbacks, payment webhooks).

A token has 192 random bits. Rows keep its SHA-256 for lookup (an indexed equality on a hash, so lookup time says
nothing about the secret) and an encrypted copy, so the URL can be shown to the tenant again.
"""

import hashlib
import secrets

# Any token outside these lengths was never issued: refuse it before touching the database.
MIN_LENGTH, MAX_LENGTH = 20, 128


def url_token_new() -> str:
    return secrets.token_urlsafe(24)


def url_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url_token_plausible(token: str) -> bool:
    return MIN_LENGTH <= len(token) <= MAX_LENGTH
