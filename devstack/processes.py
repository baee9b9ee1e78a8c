"""Child processes with labelled output: each line printed as `[name] line`."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

_COLOURS = {
    "temporal": "35",
    "postgres": "34",
    "setup": "33",
    "worker": "36",
    "api": "32",
    "smtp": "90",
}
_print_lock = threading.Lock()


def say(name: str, line: str) -> None:
    label = f"[{name}]".ljust(11)
    if sys.stdout.isatty():
        label = f"\033[{_COLOURS.get(name, '37')}m{label}\033[0m"
    with _print_lock:
        print(f"{label} {line}", flush=True)


class Child:
    """A component process in its own session, so Ctrl-C reaches only the launcher, which then
    stops the components in order."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            say(self.name, line.rstrip())

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        # SIGTERM, not SIGINT: a child may have inherited SIGINT as ignored (a launcher started
        # in the background); uvicorn, the worker and the Temporal CLI all stop cleanly on it.
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                say(self.name, f"did not stop within {timeout:.0f}s; killing it")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(timeout=2)


def run_once(name: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
    child = Child(name, argv, env)
    code = child.process.wait()
    child._reader.join(timeout=2)
    if code != 0:
        raise SystemExit(f"{name} failed with exit code {code}")
