"""Sealing the admin password between the API and the worker (AES-GCM, PASSWORD_SEALING_KEY).

The API must not spend Argon2's CPU inside a request, and nothing secret may go through
workflow history. So the API seals the password (microseconds) onto the tenant row, in the
transaction that inserts the row, and the create-admin-user activity unseals it, hashes it on
the worker's hashing threads and clears it from the row. The tenant id is the associated data:
a sealed password copied onto another tenant's row does not unseal.

Layout of a sealed value: a 96-bit random nonce, then the ciphertext with its 128-bit tag.
"""

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class CannotUnseal(Exception):
    """The key is not the one the value was sealed with, or the value was altered."""


def new_key() -> str:
    """A fresh key, as PASSWORD_SEALING_KEY expects it (base64url of 32 random bytes)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def decode_key(text: str) -> bytes:
    """The key's bytes; ValueError unless `text` is base64url of exactly 32 bytes."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError) as err:
        raise ValueError("PASSWORD_SEALING_KEY must be base64url of 32 random bytes") from err
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"PASSWORD_SEALING_KEY must be base64url of 32 random bytes (got {len(key)} bytes)"
        )
    return key


def seal(key: bytes, tenant_id: str, password: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, password.encode(), tenant_id.encode())


def unseal(key: bytes, tenant_id: str, sealed: bytes) -> str:
    nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, tenant_id.encode()).decode()
    except (InvalidTag, ValueError) as err:
        raise CannotUnseal from err
