"""Counting the Temporal queries this API process sends (tests and the benchmark read it)."""

from typing import Any

from temporalio.client import Interceptor, OutboundInterceptor, QueryWorkflowInput


class QueryCounter(Interceptor):
    def __init__(self) -> None:
        self.queries = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _CountingOutbound(next, self)


class _CountingOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, counter: QueryCounter) -> None:
        super().__init__(next)
        self._counter = counter

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self._counter.queries += 1
        return await super().query_workflow(input)
