"""GET /metrics: the API process's Prometheus metrics (api/metrics.py), for a scraper."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import SettingsDep
from api.errors import NotAuthenticated
from api.metrics import ApiMetrics

router = APIRouter(tags=["metrics"])


async def scraper(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Open unless METRICS_TOKEN is set; then only `Authorization: Bearer <METRICS_TOKEN>`."""
    if settings.metrics_token is None:
        return
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    if not hmac.compare_digest((authorization or "").encode(), expected):
        raise NotAuthenticated("/metrics needs the METRICS_TOKEN bearer token")


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(scraper)])
async def get_metrics(request: Request) -> Response:
    """Prometheus text format (Prometheus' `authorization` scrape option sends the token)."""
    metrics: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
