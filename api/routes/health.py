from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.schemas import ClientConfig, Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def get_health(session: SessionDep, temporal: TemporalDep) -> JSONResponse:
    """200 when the API reaches its database and Temporal, 503 otherwise."""
    try:
        database = (await session.scalar(text("SELECT 1"))) == 1
    except Exception:
        database = False
    try:
        reachable = await temporal.service_client.check_health()
    except Exception:
        reachable = False
    ok = database and reachable
    body = Health(status="ok" if ok else "degraded", database=database, temporal=reachable)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/api/config", response_model=ClientConfig)
async def get_config(settings: SettingsDep) -> ClientConfig:
    """What the browser app needs to know about this deployment."""
    return ClientConfig(
        temporal_ui_url=settings.temporal_ui_url,
        temporal_namespace=settings.temporal_namespace,
        signup_enabled=settings.signup_enabled,
    )
