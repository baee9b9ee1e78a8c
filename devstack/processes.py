"""Child processes with labelled output: each line printed as `[name] line`."""

import os
import re
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

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        shutdown_noise: re.Pattern[str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.restarts = 0
        # Lines not worth printing once the launcher has asked the process to stop.
        self.shutdown_noise = shutdown_noise
        self.stopping = False
        self.process, self._reader = self._spawn()

    def _spawn(self) -> tuple["subprocess.Popen[str]", threading.Thread]:
        process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        reader = threading.Thread(target=self._pump, args=(process,), daemon=True)
        reader.start()
        return process, reader

    def restart(self) -> None:
        self._reader.join(timeout=2)
        self.restarts += 1
        self.process, self._reader = self._spawn()

    def exit_reason(self) -> str:
        """`signal 9` or `code 1`, as an operator reads it."""
        code = self.process.returncode
        return f"signal {-code}" if code is not None and code < 0 else f"code {code}"

    def _pump(self, process: "subprocess.Popen[str]") -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if self.stopping and self.shutdown_noise and self.shutdown_noise.search(line):
                continue
            say(self.name, line.rstrip())

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 40.0) -> None:
        # SIGTERM, not SIGINT: a child may have inherited SIGINT as ignored (a launcher started
        # in the background); uvicorn, the worker and the Temporal CLI all stop cleanly on it.
        # 40 s: the worker lets running steps finish for up to 30 s (workflows/worker.py).
        self.stopping = True
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


class CrashPolicy:
    """When a crashed component is restarted: after 1, 2, 4 ... s (at most `max_delay`), unless it
    crashed `limit` times within `window` seconds, which is a crash loop: give up."""

    def __init__(self, limit: int = 5, window: float = 60.0, max_delay: float = 30.0) -> None:
        self.limit, self.window, self.max_delay = limit, window, max_delay
        self._crashes: dict[str, list[float]] = {}

    def crashed(self, name: str, now: float) -> float | None:
        """Record a crash at `now` (monotonic seconds); the delay before restarting, or None for
        a crash loop."""
        recent = [t for t in self._crashes.get(name, []) if now - t < self.window] + [now]
        self._crashes[name] = recent
        if len(recent) >= self.limit:
            return None
        return float(min(2 ** (len(recent) - 1), self.max_delay))
