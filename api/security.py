"""Access tokens (the only module that imports `jwt`)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from core.settings import Settings
from core.status import ROOT_TENANT_ID

ALGORITHM = "HS256"
ROOT_ROLE = "root"
# A sign-up's progress token: it reads that one tenant's progress for a while, nothing else.
# The audience keeps it apart from access tokens both ways (an access token has none, and
# `jwt.decode` without an audience refuses a token that names one).
SIGNUP_PROGRESS_AUDIENCE = "tenantflow:signup-progress"
SIGNUP_PROGRESS_TTL = timedelta(minutes=30)


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    tenant: str
    roles: tuple[str, ...]

    @property
    def is_root(self) -> bool:
        return self.tenant == ROOT_TENANT_ID and ROOT_ROLE in self.roles


def _secret(settings: Settings) -> str:
    if settings.jwt_secret is None:
        raise RuntimeError("JWT_SECRET is not set")
    return settings.jwt_secret.get_secret_value()


def create_access_token(settings: Settings, principal: Principal) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": principal.user_id,
        "email": principal.email,
        "tenant": principal.tenant,
        "roles": list(principal.roles),
        "iat": now,
        "exp": now + timedelta(minutes=settings.jwt_ttl_minutes),
    }
    return jwt.encode(claims, _secret(settings), algorithm=ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "tenant", "roles"]},
        )
    except jwt.InvalidTokenError as err:
        raise InvalidToken(str(err)) from err
    roles = claims["roles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("malformed roles claim")
    return Principal(
        user_id=str(claims["sub"]),
        email=str(claims.get("email", "")),
        tenant=str(claims["tenant"]),
        roles=tuple(roles),
    )


def create_signup_progress_token(settings: Settings, tenant_id: str) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": tenant_id,
        "aud": SIGNUP_PROGRESS_AUDIENCE,
        "iat": now,
        "exp": now + SIGNUP_PROGRESS_TTL,
    }
    return jwt.encode(claims, _secret(settings), algorithm=ALGORITHM)


def signup_progress_tenant(settings: Settings, token: str) -> str:
    """The tenant id a sign-up progress token is for."""
    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=[ALGORITHM],
            audience=SIGNUP_PROGRESS_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.InvalidTokenError as err:
        raise InvalidToken(str(err)) from err
    return str(claims["sub"])
