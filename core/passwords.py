"""Password policy and hashing (pwdlib with Argon2)."""

import asyncio
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor

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


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)


class VerifierBusy(Exception):
    """Every verifying thread is busy and the queue is full."""


class BoundedVerifier:
    """Sign-in verifies (~125 ms of CPU and 64 MiB each) on threads of their own, with a bounded
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
