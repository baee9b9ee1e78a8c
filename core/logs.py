"""Logging for every process (API, worker, setup), configured in one place.

`LOG_FORMAT=text` (the default, `make dev`'s): `LEVEL logger: message`. `LOG_FORMAT=json`: one
JSON object per line with time, level, logger, message and, where known, tenant_id, workflow_id,
run_id and activity, for a log shipper. LOG_LEVEL: DEBUG, INFO (default), WARNING, ERROR. Either
way each line is redacted as a whole, message and traceback alike: access tokens, bearer tokens,
JWTs, Argon2 hashes and URL passwords (a DSN) never reach the output, whoever logged them.

Context comes from Temporal (`activity.logger` and `workflow.logger` put `temporal_activity` /
`temporal_workflow` on the record; any other logger inside an activity gets the activity's info
from its context) and, in the API, from `bind()`, called by operations on a tenant.
"""

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

_REDACTED = "[redacted]"
_SECRETS = (
    # ?access_token=… (EventSource cannot send headers, so the SSE routes take it in the URL).
    (re.compile(r"(access_token=)[^&\s\"']+"), rf"\1{_REDACTED}"),
    # A token, not the next word of a sentence ("expected a bearer token").
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE), rf"\1{_REDACTED}"),
    # A JWT anywhere: three base64url parts, the first a JSON object ("eyJ").
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), _REDACTED),
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s\"',)]*"), _REDACTED),
    # scheme://user:password@host: keep the user, drop the password.
    (re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE), r"\1***@"),
)

_tenant: ContextVar[str | None] = ContextVar("log_tenant_id", default=None)
_workflow: ContextVar[str | None] = ContextVar("log_workflow_id", default=None)

# Ids of tenant workflows (workflows/models.py: provision-, update-, deprovision-tenant-<id>):
# core cannot import workflows, and a test ties the two together.
_TENANT_WORKFLOW = re.compile(r"^(?:provision|deprovision)-tenant-(?P<id>[a-z0-9-]+)$")
_UPDATE_WORKFLOW = re.compile(r"^update-tenant-(?P<id>[a-z0-9-]+)-[0-9a-f]{8}$")


def redact(text: str) -> str:
    """`text` without the secrets a log line must not carry."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def bind(tenant_id: str, workflow_id: str | None = None) -> None:
    """Name the tenant (and its workflow) in the log lines of the rest of this request."""
    _tenant.set(tenant_id)
    if workflow_id is not None:
        _workflow.set(workflow_id)


def tenant_of(workflow_id: str) -> str | None:
    """The tenant a tenant workflow's id names; None for other workflows (bulk, fleet)."""
    found = _TENANT_WORKFLOW.match(workflow_id) or _UPDATE_WORKFLOW.match(workflow_id)
    return found["id"] if found else None


def context_of(record: logging.LogRecord) -> dict[str, str]:
    """tenant_id, workflow_id, run_id and activity of a record, those that are known."""
    found: dict[str, Any] = {}
    details: Mapping[str, Any] | None = getattr(record, "temporal_activity", None)
    if details is None and activity.in_activity():
        # A driver's or our own module logger, called inside an activity.
        info = activity.info()
        details = {
            "activity_type": info.activity_type,
            "workflow_id": info.workflow_id,
            "workflow_run_id": info.workflow_run_id,
        }
    if details is not None:
        found["activity"] = details.get("activity_type")
        found["workflow_id"] = details.get("workflow_id")
        found["run_id"] = details.get("workflow_run_id")
    elif (flow := getattr(record, "temporal_workflow", None)) is not None:
        found["workflow_id"] = flow.get("workflow_id")
        found["run_id"] = flow.get("run_id")
    else:
        found["workflow_id"] = _workflow.get()
    workflow_id = found.get("workflow_id")
    found["tenant_id"] = _tenant.get() or (tenant_of(workflow_id) if workflow_id else None)
    return {key: str(value) for key, value in found.items() if value is not None}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback goes in `exception`, newlines escaped."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_of(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure() -> None:
    """Send every logger (ours, the SDK's, uvicorn's, the drivers') through one stderr handler,
    formatted as LOG_FORMAT (text, json) says, at LOG_LEVEL (default INFO).

    Read from the environment before the settings are: a bad setting is then reported in the
    chosen format too."""
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower() or "text"
    level = os.environ.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if log_format not in FORMATS:
        raise SystemExit(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    if level not in LEVELS:
        raise SystemExit(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    if level != "DEBUG":
        # One line per Alembic plugin at every start of a process that imports Alembic.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if log_format == "json":
        # The fields carry the run's details: do not repeat them in every message.
        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False


def uvicorn_level() -> str:
    """LOG_LEVEL as uvicorn spells it."""
    return (os.environ.get("LOG_LEVEL", "").strip() or "info").lower()
