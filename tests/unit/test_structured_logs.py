import json
import logging
from typing import Any

import pytest

from core.logs import JsonFormatter, TextFormatter, bind, configure, redact, tenant_of
from workflows.models import deprovision_workflow_id, provision_workflow_id, update_workflow_id


def record(message: str, *args: object, **extra: Any) -> logging.LogRecord:
    entry = logging.LogRecord("tenantflow.test", logging.INFO, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("connecting to postgresql+asyncpg://app:S3cr3t-pw@db:5432/tf", "S3cr3t-pw"),
        ("DATABASE_URL=postgres://app:p%40ss@127.0.0.1/tf failed", "p%40ss"),
        ('"GET /api/events?access_token=abc.def.ghi&lastEventId=3 HTTP/1.1" 200', "abc.def"),
        ("Authorization: Bearer opaque-token_123", "opaque-token_123"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl issued", "eyJhbGciOiJIUzI1NiJ9"),
        ("hash=$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA stored", "$argon2"),
    ],
)
def test_secrets_are_redacted_from_a_line(line: str, secret: str) -> None:
    assert secret not in redact(line)


def test_redaction_keeps_what_is_not_secret() -> None:
    line = (
        "worker on 127.0.0.1:7233, API http://127.0.0.1:8000/docs, DSN postgresql://app@db/tf,"
        " 401: expected a bearer token"
    )
    assert redact(line) == line
    assert redact("postgresql://app:pw@db/tf") == "postgresql://app:***@db/tf"


def test_a_json_line_carries_the_activity_context_temporal_puts_on_the_record() -> None:
    details = {
        "activity_type": "create_tenant_database",
        "workflow_id": provision_workflow_id("acme"),
        "workflow_run_id": "run-1",
        "attempt": 1,
    }
    line = JsonFormatter().format(record("made %s", "tf_acme", temporal_activity=details))
    entry = json.loads(line)
    assert entry["message"] == "made tf_acme"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "tenantflow.test"
    assert entry["time"].endswith("+00:00")
    assert entry["activity"] == "create_tenant_database"
    assert entry["workflow_id"] == "provision-tenant-acme"
    assert entry["run_id"] == "run-1"
    assert entry["tenant_id"] == "acme"


def test_a_json_line_carries_the_workflow_context() -> None:
    details = {"workflow_id": deprovision_workflow_id("acme"), "run_id": "run-2"}
    entry = json.loads(JsonFormatter().format(record("gone", temporal_workflow=details)))
    assert (entry["tenant_id"], entry["workflow_id"], entry["run_id"]) == (
        "acme",
        "deprovision-tenant-acme",
        "run-2",
    )
    assert "activity" not in entry


def test_a_json_line_without_context_has_no_empty_fields() -> None:
    entry = json.loads(JsonFormatter().format(record("plain")))
    assert set(entry) == {"time", "level", "logger", "message"}


async def test_the_api_binds_a_tenant_for_the_rest_of_its_request() -> None:
    # A task of its own, as each request has: the binding does not leak into other tasks.
    bind("acme", "update-tenant-acme-0123abcd")
    entry = json.loads(JsonFormatter().format(record("updated")))
    assert (entry["tenant_id"], entry["workflow_id"]) == ("acme", "update-tenant-acme-0123abcd")


def test_a_traceback_stays_on_one_redacted_line() -> None:
    try:
        raise RuntimeError("cannot reach postgresql://app:hunter2@db/tf")
    except RuntimeError:
        entry = record("failed")
        entry.exc_info = __import__("sys").exc_info()
    line = JsonFormatter().format(entry)
    assert "\n" not in line and "hunter2" not in line
    assert "RuntimeError" in json.loads(line)["exception"]
    assert "hunter2" not in TextFormatter().format(entry)


@pytest.mark.parametrize(
    ("workflow_id", "tenant"),
    [
        (provision_workflow_id("acme-corp"), "acme-corp"),
        (deprovision_workflow_id("acme-corp"), "acme-corp"),
        (update_workflow_id("acme-corp", "0123abcd-ef01-2345-6789-abcdef012345"), "acme-corp"),
        ("bulk-0123", None),
    ],
)
def test_the_tenant_is_read_from_its_workflow_id(workflow_id: str, tenant: str | None) -> None:
    assert tenant_of(workflow_id) == tenant


@pytest.mark.parametrize(("variable", "value"), [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud")])
def test_a_bad_setting_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit, match=variable):
        configure()
