"""Small helpers for the local services: free ports, waiting for a port, stopping a child cleanly."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time


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


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
