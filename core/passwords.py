"""Password policy and hashing (pwdlib with Argon2)."""

import asyncio
import re

from pwdlib import PasswordHash

PASSWORD_RULE = "must be 8 to 128 characters and contain at least one letter and one digit"

_hasher = PasswordHash.recommended()
# Verified against when a user does not exist, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("tenantflow-timing-equaliser-1")


def check_password_policy(password: str) -> str:
    if not 8 <= len(password) <= 128:
        raise ValueError(PASSWORD_RULE)
    if not re.search(r"[^\W\d_]", password) or not re.search(r"\d", password):
        raise ValueError(PASSWORD_RULE)
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def hash_password_async(password: str) -> str:
    """Argon2 costs ~150 ms of CPU: in a thread, so an API's event loop (and its streams)
    keeps moving meanwhile."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password_async(password: str, password_hash: str | None) -> bool:
    return await asyncio.to_thread(verify_password, password, password_hash)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)
