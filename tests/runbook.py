"""docs/operations.md's commands, taken from the markdown and run as a reader runs them: from the
repository's folder, in a shell set up by the runbook's own first block, with no virtualenv on
PATH (`make dev` does not put the CLI there) and only what `make dev` tells the reader
(TEMPORAL_PORT)."""

import asyncio
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from core.settings import Settings
from tests.helpers import until_value

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = (ROOT / "docs" / "operations.md").read_text()
CLI = ".venv/bin/temporal "


def blocks(text: str = RUNBOOK) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def commands(block: str) -> list[str]:
    """The block's commands: a line, or several while a quote is open (`python -c '...'`)."""
    found: list[str] = []
    pending = ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # no closing quotation yet
            continue
        if pending.strip():
            found.append(pending)
        pending = ""
    assert not pending, f"unterminated command in the runbook: {pending}"
    return found


SETUP, *_ = blocks()
assert SETUP.startswith("export TEMPORAL_ADDRESS="), "the runbook starts by setting up the shell"
COMMANDS = [c for block in blocks()[1:] for c in commands(block)]


def section(title: str) -> str:
    """The text of the runbook's section `## <title>…`."""
    return RUNBOOK.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def reader_env(settings: Settings) -> dict[str, str]:
    """The reader's shell: TEMPORAL_PORT as they started `make dev`, nothing of the suite's
    Temporal settings, and no virtualenv on PATH."""
    venv_bins = {str(Path(sys.executable).parent), str(ROOT / ".venv" / "bin")}
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p not in venv_bins]
    host, port = settings.temporal_address.rsplit(":", 1)
    assert host == "127.0.0.1", "the runbook's address is make dev's"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    return env | {"PATH": os.pathsep.join(path), "TEMPORAL_PORT": port}


async def run(settings: Settings, command: str, **variables: str) -> str:
    """Run a runbook command after the setup block, with the reader's own values of the
    variables the runbook asks them to set (TENANT, BULK). Off the event loop: the in-process
    worker shares it and must answer the CLI's queries meanwhile."""
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())
    script = f"set -eo pipefail\n{SETUP}{exports}{command}\n"
    done: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", script],
        cwd=ROOT,
        env=reader_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    return done.stdout


async def run_until(settings: Settings, command: str, text: str, **variables: str) -> str:
    """Visibility trails the runs by a moment: run the command until its output shows `text`."""

    async def shows() -> str:
        out = await run(settings, command, **variables)
        return out if text in out else ""  # "": not yet

    return await until_value(shows)
