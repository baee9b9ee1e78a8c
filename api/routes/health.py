from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep, TemporalDep
from api.schemas import Health

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
