"""A throw-away redis-server on loopback for the demo and the tests: no persistence, no password."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streams.local.processes import ServiceError, port_open, stop, wait_for


@dataclass
class LocalRedis:
    home: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        server = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if server is None:
            raise ServiceError(
                "redis-server not found: apt-get install redis-server (make demo does), "
                "or set LYTTE_REDIS_URL to an existing Redis"
            )
        if port_open("127.0.0.1", self.port):
            raise ServiceError(f"port {self.port} is taken: set LYTTE_REDIS_PORT, or LYTTE_REDIS_URL to use that Redis")
        self.home = self.home.resolve()  # redis-server changes into --dir before it opens --logfile
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "redis.log"
        self.process = subprocess.Popen(
            [
                server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.home),
                "--logfile",
                str(log),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: port_open("127.0.0.1", self.port), timeout, "redis-server", self.process, f" (log: {log})")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
