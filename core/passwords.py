"""Password policy and hashing (pwdlib with Argon2)."""

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


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)
