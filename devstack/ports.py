"""Before starting anything: are the ports this stack listens on free? A second `make dev`
while one runs says which port and which process hold it, instead of half-starting."""

import errno
import socket

import psutil


def in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: SO_REUSEADDR, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def holder(port: int) -> str | None:
    """The process listening on `port`, as `pid 123: temporal server start-dev …` (started by
    `python -m devstack`, pid 100), when this user may see it."""
    try:
        listening = [
            c
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
        ]
        if not listening or listening[0].pid is None:
            return None
        process = psutil.Process(listening[0].pid)
        described = f"pid {process.pid}: {_command(process)}"
        for parent in process.parents():
            if "devstack" in parent.cmdline():
                return f"{described} (started by `make dev`, pid {parent.pid})"
        return described
    except (psutil.Error, OSError):
        return None


def first_busy(ports: dict[str, str]) -> tuple[str, int] | None:
    """The first (variable, port) of `ports` (variable -> port) that is taken."""
    for variable, port in ports.items():
        if port and in_use(int(port)):
            return variable, int(port)
    return None


def _command(process: psutil.Process) -> str:
    words = process.cmdline() or [process.name()]
    text = " ".join([words[0].rsplit("/", 1)[-1], *words[1:]])
    return text if len(text) <= 80 else text[:77] + "..."
