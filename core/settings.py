"""Configuration from environment variables (see README, "Configuration")."""

import ipaddress
from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.sealing import decode_key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None,
        description="Control-plane database; the role needs CREATEDB. Unset: the dev launcher "
        "starts an embedded PostgreSQL and sets it.",
    )
    tenants_database: str = Field(
        default="tenantflow_tenants",
        description="Shared database holding one schema per tenant without an isolated database.",
    )
    tenant_storage_prefix: str = Field(
        default="tenant_",
        pattern=r"^[a-z][a-z0-9_]{0,19}$",
        description="Prefix of every tenant database and schema name.",
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "tenantflow"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    fleet_task_queue: str = Field(
        default="",
        description="Task queue of fleet work (schema rollouts); empty: TEMPORAL_TASK_QUEUE with "
        "'-fleet' appended. TEMPORAL_TASK_QUEUE itself puts it beside interactive work.",
    )
    fleet_max_activities: int = Field(
        default=4, ge=1, description="Fleet activities one worker runs at once."
    )
    fleet_max_workflow_tasks: int = Field(
        default=2, ge=1, description="Fleet workflow tasks one worker runs at once."
    )
    fleet_activities_per_second: float = Field(
        default=0,
        ge=0,
        description="Fleet activities the task queue hands out per second, all workers "
        "together (Temporal enforces it); 0: no limit.",
    )

    spare_schemas: int = Field(
        default=4,
        ge=0,
        description="Schemas at the newest tenant revision kept ready in each shared "
        "tenants database: a new shared tenant takes one instead of running its DDL on the way "
        "to Active (activities/spares.py). 0: none.",
    )
    workflow_sandbox: bool = Field(
        default=False,
        description="Run workflow code in the Temporal SDK's sandbox, which checks at every "
        "workflow task that it imports and calls nothing non-deterministic. Off by default: it "
        "costs a third of the worker's CPU; the test suite runs with it on.",
    )

    jwt_secret: SecretStr | None = Field(
        default=None, description="HMAC key of access tokens: at least 32 bytes (RFC 7518 3.2)."
    )
    jwt_ttl_minutes: int = Field(default=60, ge=1)
    password_sealing_key: SecretStr | None = Field(
        default=None,
        description="base64url of 32 random bytes: the API seals new admins' passwords with it "
        "(AES-GCM) and the worker unseals and hashes them. Unset: the API hashes in the request.",
    )
    root_email: str = "root@example.com"
    root_password: SecretStr | None = None

    notification_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a notification waits for a user who has no stream open.",
    )
    notification_email_after_seconds: float = Field(
        default=600.0,
        ge=0,
        description="A notification no stream of its user took within this time is e-mailed "
        "to them once (unless they opted out); 0 turns the e-mail fallback off.",
    )
    sse_ping_seconds: float = Field(default=15.0, gt=0, description="SSE keep-alive interval.")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "Tenantflow <no-reply@tenantflow.example.com>"
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Where users reach the app (e-mail links)."
    )
    signup_enabled: bool = True
    signup_limit_per_ip_per_hour: int = Field(default=5, ge=0)
    signup_limit_per_hour: int = Field(default=100, ge=0)

    login_limit_per_account: int = Field(
        default=10, ge=1, description="Sign-in attempts per tenant + e-mail per window."
    )
    login_limit_per_address: int = Field(
        default=50, ge=1, description="Failed sign-in attempts per client address per window."
    )
    login_window_seconds: int = Field(default=900, ge=1)
    login_verify_threads: int = Field(
        default=1, ge=1, description="Threads verifying sign-in passwords (Argon2, ~125 ms each)."
    )
    login_verify_queue: int = Field(
        default=16, ge=1, description="Sign-ins waiting for those threads before 503."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Larger bodies get 413.")
    # Comma-separated addresses or networks whose X-Forwarded-For is believed; none by default.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    reconcile_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the API settles tenants whose run was stopped from outside "
        "(terminated, timed out).",
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, the API's /metrics needs `Authorization: Bearer <token>`.",
    )
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Where the worker serves Prometheus metrics (Temporal SDK and ours); "
        "unset: none.",
    )

    @property
    def fleet_queue(self) -> str:
        return self.fleet_task_queue or f"{self.temporal_task_queue}-fleet"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            ipaddress.ip_network(item)  # ValueError names the bad entry
        return value

    @field_validator("password_sealing_key", "metrics_token", "worker_metrics_port", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("password_sealing_key")
    @classmethod
    def _sealing_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(value.get_secret_value())  # ValueError says what is wrong
        return value

    def sealing_key(self) -> bytes | None:
        """PASSWORD_SEALING_KEY's bytes, or None when it is not set."""
        key = self.password_sealing_key
        return None if key is None else decode_key(key.get_secret_value())

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 bytes long")
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
