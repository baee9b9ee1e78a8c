"""temporal-dev.yml, the production-like stack, as Docker Compose reads it: `docker compose
config` validates the file (no Docker engine needed) and resolves it; the test checks the
topology docs/production.md describes. Skipped, with the reason, where Compose v2 is missing."""

import json
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from temporalio.common import SearchAttributeIndexedValueType

from devstack.__main__ import SEARCH_ATTRIBUTES as DEV_SERVER_ATTRIBUTES
from workflows.models import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "temporal-dev.yml"


def compose_command() -> list[str] | None:
    """`docker compose` (the CLI plugin), else a standalone `docker-compose` of v2."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    for command in candidates:
        if shutil.which(command[0]) is None:
            continue
        found = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if found.returncode == 0 and "v2." in found.stdout:
            return command
    return None


@cache
def resolved() -> dict[str, Any]:
    command = compose_command()
    if command is None:
        pytest.skip(
            "Docker Compose v2 is not installed (neither `docker compose` nor v2 `docker-compose`)"
        )
    done = subprocess.run(
        [*command, "-f", str(STACK), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    stack: dict[str, Any] = json.loads(done.stdout)
    return stack


def test_the_stack_is_valid_compose_with_every_component() -> None:
    services = resolved()["services"]
    assert set(services) >= {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-init",
        "temporal-admin-tools",
        "temporal-ui",
        "migrate",
        "api",
        "worker",
        "proxy",
    }
    assert services["migrate"]["command"] == ["python", "-m", "core.setup"]
    assert services["api"]["command"] == ["python", "-m", "api"]
    assert services["worker"]["command"] == ["python", "-m", "workflows.worker"]
    assert services["migrate"]["restart"] == "no"  # one-shot
    for one_shot in ("migrate", "temporal-init"):
        for dependent in ("api", "worker"):
            condition = services[dependent]["depends_on"][one_shot]["condition"]
            assert condition == "service_completed_successfully"


def test_api_and_worker_run_two_replicas_and_the_api_one_address() -> None:
    stack = resolved()
    services = stack["services"]
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    # Replicas cannot share a host port: only the proxy publishes one, for all of them.
    assert "ports" not in services["api"]
    assert [p["target"] for p in services["proxy"]["ports"]] == [8000]
    proxy_config = stack["configs"][services["proxy"]["configs"][0]["source"]]["content"]
    assert "server api:8000 resolve" in proxy_config
    assert "proxy_buffering off" in proxy_config  # server-sent events


def test_every_replica_shares_the_queue_and_the_secrets() -> None:
    services = resolved()["services"]
    shared = ["DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"]
    shared += ["JWT_SECRET", "PASSWORD_SEALING_KEY"]
    api, worker = services["api"]["environment"], services["worker"]["environment"]
    for name in shared:
        assert api[name] and api[name] == worker[name], name


def test_the_search_attributes_the_workflows_use_are_registered() -> None:
    """All Keyword, as `temporal-init` creates them (and as devstack does)."""
    init = " ".join(resolved()["services"]["temporal-init"]["command"])
    names = {key.name for key in SEARCH_ATTRIBUTES}
    names |= {attribute.split("=")[0] for attribute in DEV_SERVER_ATTRIBUTES}
    for key in SEARCH_ATTRIBUTES:
        assert key.indexed_value_type == SearchAttributeIndexedValueType.KEYWORD, key.name
    for name in names:
        assert re.search(rf"\b{name}\b", init), name


def test_the_image_holds_every_package() -> None:
    """The Dockerfile copies each package pyproject installs, and the migrations."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for folder in [*packages, "migrations"]:
        assert f"COPY {folder} ./{folder}" in dockerfile, folder
