import asyncio
import threading

import pytest
from sqlalchemy.exc import OperationalError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import is_outage
from api.schemas import reject_control_characters
from core.passwords import BoundedVerifier, VerifierBusy


class HeldVerifier(BoundedVerifier):
    """Verifies that wait for `release` (instead of ~125 ms of Argon2)."""

    def __init__(self, threads: int, queue: int) -> None:
        super().__init__(threads, queue)
        self.release = threading.Event()

    def _verify(self, password: str, password_hash: str | None) -> bool:
        self.release.wait(timeout=10)
        return password == password_hash


async def test_a_full_verifier_refuses_instead_of_queueing_without_end() -> None:
    verifier = HeldVerifier(threads=1, queue=2)
    try:
        held = [asyncio.create_task(verifier.verify("pw", "pw")) for _ in range(3)]
        await asyncio.sleep(0)  # let the three take their places
        with pytest.raises(VerifierBusy):
            await verifier.verify("pw", "pw")
        verifier.release.set()
        assert await asyncio.gather(*held) == [True, True, True]
        # Room again once they are done.
        assert await verifier.verify("pw", "other") is False
    finally:
        verifier.release.set()
        verifier.close()


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        OperationalError("SELECT 1", {}, ConnectionResetError()),
        RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""),
    ],
)
def test_unreachable_dependencies_are_outages(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        OperationalError("SELECT 1", {}, Exception("division by zero")),
        RPCError("no such workflow", RPCStatusCode.NOT_FOUND, b""),
    ],
)
def test_other_errors_are_not_outages(error: Exception) -> None:
    assert not is_outage(error)


@pytest.mark.parametrize(
    "text", ["a\x00b", "a\rb", "a\nb", "\x1b[31m", "a\x7f", "a\x9bb", "a\u2028"]
)
def test_control_characters_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        reject_control_characters(text)


@pytest.mark.parametrize("text", ["Acme Corp.", "Ünïcode — ok", "tab-free", "emoji 🚀"])
def test_printable_text_passes(text: str) -> None:
    assert reject_control_characters(text) == text


def test_a_closed_connection_is_an_outage_but_a_misused_one_is_not() -> None:
    import asyncpg  # type: ignore[import-untyped]

    assert is_outage(asyncpg.InterfaceError("connection is closed"))
    assert not is_outage(asyncpg.InterfaceError("another operation is in progress"))
