"""Small helpers for the local services: free ports, waiting for a port, stopping a child cleanly."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from schemas.settings import Settings


class ServiceError(RuntimeError):
    """A local service could not be set up; the message is one line saying what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_for(check, timeout: float, what: str, proc: subprocess.Popen | None = None, log: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with code {proc.returncode} while starting{log}")
        if check():
            return
        time.sleep(0.2)
    raise ServiceError(f"{what} did not answer within {timeout:.0f} s{log}")


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for a child that must run with exactly these settings: the caller's variables less
    its own `LYTTE_*` ones, plus the settings as `LYTTE_*` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYTTE_")}
    return env | settings.as_env()


def spawn_lytte(args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Run `lytte ARGS` with this interpreter, output appended to `log`, in a session of its own so that a
    Ctrl-C meant for the parent does not reach it before the parent stops it."""
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=cwd,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)  # a process stuck in the kernel (D state) is left behind rather than waited for
