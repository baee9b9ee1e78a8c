"""schemathesis against /openapi.json, signed in as root: no server errors, and every answer
(status, content type, headers, body) is one the OpenAPI document lists."""

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.faults.conftest import sized

pytestmark = pytest.mark.faults

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Endless SSE streams: a plain request would wait for them forever (tests/integration covers them).
STREAMS = r"(/events|/notifications)$"


def fuzz(operation: Any, mode: GenerationMode, token: str, statuses: Counter[int]) -> None:
    """Up to `max_examples` generated requests to one operation, valid by the document
    (positive) or not (negative); raises at its first failure."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=sized(5, 300),
        deadline=None,
        database=None,  # nothing written to .hypothesis/
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30
        )
        statuses[response.status_code] += 1

    run()


def describe(failure: BaseException) -> str:
    """The failure and, for a group (schemathesis, or hypothesis' flaky wrapper), its members."""
    text = str(failure)
    if isinstance(failure, BaseExceptionGroup):
        text += "".join(f"\n  | {describe(member)}" for member in failure.exceptions)
    return text[:3000]


def test_every_answer_is_documented_and_none_is_a_server_error(
    api_url: str, root_token: str, worker: None, fresh_counts: None
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    failures, statuses = {}, Counter[int]()
    operations = []
    for result in schema.exclude(path_regex=STREAMS).get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document is invalid: {result.err()}"
        operations.append(result.ok())
    for operation in operations:
        for mode in GenerationMode:
            try:
                fuzz(operation, mode, root_token, statuses)
            except Unsatisfiable:
                pass  # nothing about this operation can be made invalid (negative mode)
            # Each operation's first failure, not only the first (schemathesis raises a group).
            except (Exception, BaseExceptionGroup) as failure:
                failures[f"{operation.label} ({mode.value})"] = describe(failure)
    print(
        f"schemathesis: {len(operations)} operations, {statuses.total()} requests "
        f"{dict(sorted(statuses.items()))}, {len(failures)} operations with failures"
    )
    for label, text in failures.items():
        print(f"--- {label}\n{text}")
    assert failures == {}
