"""API key material: `byd_<lookup id>_<secret>`.

The secret carries 256 random bits, so a single SHA-256 is enough to store it: nobody can guess a preimage, and a
slow password hash would add tens of milliseconds to every API request for no gain.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "byd"


@dataclass(frozen=True)
class KeyMaterial:
    lookup_id: str
    raw_key: str
    key_hash: str


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_generate() -> KeyMaterial:
    lookup_id = secrets.token_hex(6)
    raw_key = f"{KEY_PREFIX}_{lookup_id}_{secrets.token_urlsafe(32)}"
    return KeyMaterial(lookup_id=lookup_id, raw_key=raw_key, key_hash=api_key_hash(raw_key))


def api_key_lookup_id(raw_key: str) -> str | None:
    """The lookup id of a well-formed key, or None. The secret may itself contain underscores."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or len(parts[2]) < 40:
        return None
    return parts[1]


def api_key_matches(raw_key: str, key_hash: str) -> bool:
    return hmac.compare_digest(api_key_hash(raw_key), key_hash)
