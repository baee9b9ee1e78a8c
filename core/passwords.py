"""Password policy and hashing (pwdlib with Argon2id).

New hashes use OWASP's minimum for argon2id (m=19 MiB, t=2, p=1: ~30 ms of CPU here, against
~125 ms and 64 MiB for pwdlib's default m=64 MiB, t=3, p=4). A hash records its own parameters,
so hashes made with other ones (users created before) keep verifying.
"""

import asyncio
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from core.sealing import seal

PASSWORD_RULE = "must be 8 to 128 characters and contain at least one letter and one digit"

# OWASP Password Storage Cheat Sheet, argon2id: m=19456 KiB, t=2, p=1 (never below it).
_hasher = PasswordHash((Argon2Hasher(memory_cost=19456, time_cost=2, parallelism=1),))
_count_lock = threading.Lock()
_hashes = 0  # Argon2 hashes made in this process (tests show which paths make none)
# Verified against when a user does not exist, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("tenantflow-timing-equaliser-1")


def check_password_policy(password: str) -> str:
    if not 8 <= len(password) <= 128:
        raise ValueError(PASSWORD_RULE)
    if not re.search(r"[^\W\d_]", password) or not re.search(r"\d", password):
        raise ValueError(PASSWORD_RULE)
    return password


def hash_password(password: str) -> str:
    global _hashes
    with _count_lock:
        _hashes += 1
    return _hasher.hash(password)


def hashes_made() -> int:
    """How many Argon2 hashes this process has made so far."""
    return _hashes


async def hash_password_async(password: str) -> str:
    """In a thread, so an API's event loop (and its streams) keeps moving meanwhile."""
    return await asyncio.to_thread(hash_password, password)


class HashingPool:
    """The worker's hashing threads. Argon2 releases the GIL, so the event loop keeps serving
    other activities meanwhile; and however many admin users are being created at once, at
    most `threads` hashes compete for the CPU (the rest queue here, not in the scheduler)."""

    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="hash-password")

    async def hash(self, password: str) -> str:
        return await asyncio.wrap_future(self._executor.submit(hash_password, password))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def admin_password_columns(
    key: bytes | None, tenant_id: str, password: str
) -> dict[str, Any]:
    """The tenant row's columns that carry the new admin's password to the worker: sealed, or
    without a key (the documented fallback) hashed here, in the request, as before."""
    if key is None:
        return {"admin_password_hash": await hash_password_async(password)}
    return {"admin_password_sealed": seal(key, tenant_id, password)}


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)


class VerifierBusy(Exception):
    """Every verifying thread is busy and the queue is full."""


class BoundedVerifier:
    """Sign-in verifies (Argon2: ~30 ms of CPU each, ~125 ms and 64 MiB for a hash made with
    pwdlib's defaults) on threads of their own, with a bounded
    queue: a flood of sign-ins gets `VerifierBusy` instead of taking the threads that tenant
    creation hashes on, or piling up without end."""

    def __init__(self, threads: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="verify-password")
        self._capacity = threads + queue
        self._lock = threading.Lock()
        self._pending = 0
        self.verified = 0  # Argon2 verifies run so far (tests show throttled sign-ins cost none)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        with self._lock:
            if self._pending >= self._capacity:
                raise VerifierBusy
            self._pending += 1
        # Counted until the thread is done with it, even when the awaiting request is gone.
        future = self._executor.submit(self._verify, password, password_hash)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _verify(self, password: str, password_hash: str | None) -> bool:
        with self._lock:
            self.verified += 1
        return verify_password(password, password_hash)

    def _release(self, _: "Future[bool]") -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
