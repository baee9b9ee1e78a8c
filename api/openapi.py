"""The error answers of each route in the OpenAPI document, derived from what the route uses.

A route that needs a token can answer 401, one that checks a role 403, one that reads the
database or Temporal 503, one with a body 400 (unreadable) and 413, one under `{tenant_id}` 404;
what only some routes answer (409, 400, 429) they declare with `api.errors.responses(...)`.
The descriptions come from `api.errors.ERROR_RESPONSES`, the one list of them.
"""

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api import deps
from api.errors import ERROR_RESPONSES

_AUTHENTICATED = {deps.current_user, deps.stream_user}
# Checks of a role that answer 403: root, or root or an admin of the tenant in the path.
_ROLE_CHECKS = {deps.root_user, deps.stream_root, deps.tenant_reader, deps.stream_tenant_reader}
_BACKENDS = {
    deps.get_session,
    deps.get_temporal,
    deps.get_progress_hub,
    deps.get_notification_hub,
    *_AUTHENTICATED,
}
# Answers that only the route's own logic knows of, for routes whose module does not say.
_DECLARED: dict[str, tuple[int, ...]] = {"create_tenant": (409,)}


def document_errors(router: APIRouter) -> APIRouter:
    """Add the derived error answers to the router's routes (call before including it)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            for code in _codes(route):
                route.responses.setdefault(code, ERROR_RESPONSES[code])
    return router


def _codes(route: APIRoute) -> set[int]:
    calls = set(_calls(route.dependant))
    codes = set(_DECLARED.get(route.name, ()))
    if calls & _AUTHENTICATED:
        codes.add(401)
    if calls & _ROLE_CHECKS:
        codes.add(403)
    if calls & _BACKENDS:
        codes.add(503)
    if route.body_field is not None:
        codes |= {400, 413}  # 400: a body that is not JSON at all (e.g. invalid UTF-8)
    if "{tenant_id}" in route.path:
        codes.add(404)
    return codes


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)
