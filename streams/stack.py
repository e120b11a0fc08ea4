"""`lytte up`: Kafka and Redis when none are configured, then the worker, the dashboard and the synth
source as child processes, each logging to a file. Stopping stops them in reverse order."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request

from schemas.settings import Settings
from streams.kafka_local.launcher import KafkaBroker
from streams.processes import ServiceError, spawn_lytte, stop, wait_for
from streams.redis_local import LocalRedis
from streams.topics_admin import create_topics


class Stack:
    def __init__(self, settings: Settings, synth_rate: float = 8.0) -> None:
        self.settings = settings
        self.synth_rate = synth_rate
        self.logs = settings.home / "logs"
        self.broker: KafkaBroker | None = None
        self.redis: LocalRedis | None = None
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.env = dict(os.environ)

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.settings.dashboard_host}:{self.settings.dashboard_port}/"

    def _say(self, text: str) -> None:
        print(f"lytte up: {text}", flush=True)

    def start(self) -> None:
        s = self.settings
        self.logs.mkdir(parents=True, exist_ok=True)
        if s.kafka_bootstrap is None:
            self._say("starting a local Kafka (first run fetches the jars from Maven Central)")
            self.broker = KafkaBroker(
                s.home / "kafka", s.kafka_port, s.kafka_controller_port, s.cache_dir, s.kafka_home
            )
            self.broker.start()
            self.env["LYTTE_KAFKA_BOOTSTRAP"] = self.broker.bootstrap
        self._say(f"Kafka at {self.env.get('LYTTE_KAFKA_BOOTSTRAP', s.bootstrap)}")
        if s.redis_url is None:
            self.redis = LocalRedis(s.home / "redis", s.redis_port)
            self.redis.start()
            self.env["LYTTE_REDIS_URL"] = self.redis.url
        self._say(f"Redis at {self.env.get('LYTTE_REDIS_URL', s.redis)}")
        create_topics(Settings(kafka_bootstrap=self.env.get("LYTTE_KAFKA_BOOTSTRAP", s.bootstrap)))
        self._spawn("worker", ["worker"])
        self._spawn("dashboard", ["dashboard"])
        wait_for(
            self._dashboard_answers, 60, "the dashboard", self.children[-1][1], f" (log: {self.logs / 'dashboard.log'})"
        )
        self._spawn("synth", ["ingest", "synth", "--rate", str(self.synth_rate)])

    def _dashboard_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.dashboard_url + "healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def _spawn(self, name: str, args: list[str]) -> None:
        proc = spawn_lytte(args, self.env, self.logs / f"{name}.log")
        self.children.append((name, proc))
        self._say(f"{name} started (pid {proc.pid}, log {self.logs / (name + '.log')})")

    def wait(self) -> None:
        while True:
            for name, proc in self.children:
                if proc.poll() is not None:
                    raise ServiceError(f"{name} exited with code {proc.returncode}; see {self.logs / (name + '.log')}")
            time.sleep(1)

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            stop(proc)
        if self.redis:
            self.redis.stop()
        if self.broker:
            self.broker.stop()
        self._say("stopped")
