"""Domain errors and their one mapping to HTTP responses (and to the OpenAPI document)."""

import json
import logging
from collections.abc import Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger(__name__)

# Never echo these back in a 422 (FastAPI puts the rejected input in each error).
SENSITIVE_FIELDS = frozenset({"password"})
# A rejected input longer than this (as JSON) is left out of the 422: no echo of large bodies.
MAX_ECHO_CHARS = 200
# How long a client should wait when PostgreSQL or Temporal is unreachable.
OUTAGE_RETRY_AFTER = 5


class DomainError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST


class TooManyRequests(DomainError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class NotAuthenticated(DomainError):
    status_code = status.HTTP_401_UNAUTHORIZED

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT


class ServiceUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self, detail: str, retry_after: int = OUTAGE_RETRY_AFTER) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class ErrorOut(BaseModel):
    detail: str


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


_RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again")}

# Every error answer the API gives, described once; routes list the codes they give.
ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: {
        "model": ErrorOut,
        "description": "Not possible for this tenant; or a body that is not readable JSON",
    },
    401: {
        "model": ErrorOut,
        "description": "No token, or a bad, expired or revoked one; or wrong credentials",
        "headers": {"WWW-Authenticate": _header("Bearer")},
    },
    403: {"model": ErrorOut, "description": "Signed in, but not allowed"},
    404: {"model": ErrorOut, "description": "No such tenant (or the feature is off)"},
    409: {"model": ErrorOut, "description": "The tenant exists, or its status does not allow it"},
    413: {"model": ErrorOut, "description": "Request body larger than MAX_BODY_BYTES"},
    429: {"model": ErrorOut, "description": "Too many attempts", "headers": _RETRY_AFTER},
    503: {
        "model": ErrorOut,
        "description": "PostgreSQL or Temporal is unreachable (or sign-in is busy)",
        "headers": _RETRY_AFTER,
    },
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: ERROR_RESPONSES[code] for code in codes}


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        if SENSITIVE_FIELDS.intersection(map(str, error.get("loc", ()))):
            error = {k: v for k, v in error.items() if k not in ("input", "ctx")}
        elif "input" in error and _too_long(error["input"]):
            error = {k: v for k, v in error.items() if k != "input"}
        errors.append(error)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def _too_long(value: object) -> bool:
    try:
        return len(json.dumps(jsonable_encoder(value))) > MAX_ECHO_CHARS
    except (TypeError, ValueError):
        return True


# PostgreSQL refusing or dropping connections: connection exceptions (class 08), shutdowns
# and "cannot connect now" (57P01-57P03), too many connections (53300).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
_OUTAGE_TYPES = (
    OSError,  # refused, reset, unreachable, name not found, and connect timeouts
    PoolTimeout,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_outage(exc: BaseException) -> bool:
    """Whether the error says PostgreSQL or Temporal cannot be reached (so: try again later)."""
    for err in _chain(exc):
        if isinstance(err, _OUTAGE_TYPES):
            return True
        if isinstance(err, RPCError) and err.status == RPCStatusCode.UNAVAILABLE:
            return True
        if isinstance(err, DBAPIError) and err.connection_invalidated:
            return True
        if isinstance(err, asyncpg.InterfaceError) and "connection is closed" in str(err):
            return True
        state = str(getattr(err, "sqlstate", None) or "")
        if state.startswith(_OUTAGE_STATES):
            return True
        if state == "55000" and "not currently accepting connections" in str(err):
            return True
    return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        orig = getattr(err, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, err.__cause__]
        todo.append(err.__context__)


async def _handle_outage(request: Request, exc: Exception) -> JSONResponse:
    if not is_outage(exc):
        raise exc  # not ours: the server's 500 handler logs it
    log.warning("%s %s: dependency unreachable: %r", request.method, request.url.path, exc)
    error = ServiceUnavailable("The database or Temporal cannot be reached; try again shortly")
    return await _handle(request, error)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    for outage in (SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(outage, _handle_outage)
    app.add_exception_handler(RPCError, _handle_outage)
