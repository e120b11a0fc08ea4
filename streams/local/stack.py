"""`lytte up`: Kafka and Redis when none are configured, then the worker, the dashboard and the synth
source as child processes, each logging to a file.

Every service is supervised: one whose process exits is started again after a backoff (`streams.local.supervise`),
the local broker on the same ports and storage. A restarted redis-server is empty: the worker notices and
writes the view again (`streams.agents.redis_sink.ViewWriter`). Each service's state goes to the `{p}:services`
hash in Redis. Only `stop` (Ctrl-C, SIGTERM) ends the stack; it stops the services in reverse order."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import redis

from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.urls import http_url, redacted_url
from streams.local.kafka.launcher import KafkaBroker
from streams.local.processes import ServiceError, spawn_lytte, stop, wait_for
from streams.local.redis import LocalRedis
from streams.local.supervise import Supervised, exit_line, on_exit, on_started, on_stopped, record
from streams.redis_client import bounded_redis
from streams.topics_admin import create_topics

#: How many `lytte worker` processes `lytte up` starts (one consumer group); `lytte bench` starts as many by default.
#: Two use both cores of a small machine (a worker's main thread is one core at most); see README, Measured.
WORKERS = 2

#: minutes of synth history `lytte up` sends first, by default (the volume rules warm up for three hours)
SYNTH_HISTORY_MIN = 200.0


def worker_names(count: int = WORKERS) -> list[str]:
    """The supervised names of `lytte up`'s workers: 2 -> ["worker-1", "worker-2"]; 1 -> ["worker"]."""
    return ["worker"] if count == 1 else [f"worker-{i + 1}" for i in range(count)]


PUBLISH_EVERY_S = 5.0  # the services hash is rewritten this often even when nothing changed


class Runner(Protocol):
    process: subprocess.Popen | None

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Child:
    """A `lytte ...` child process, with the same start/stop/process shape as KafkaBroker and LocalRedis."""

    args: list[str]
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = spawn_lytte(self.args, self.env, self.log_file)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@dataclass
class Service:
    runner: Runner
    log_file: Path
    state: Supervised
    restart_at: float | None = None  # set while the service waits out its backoff

    @property
    def name(self) -> str:
        return self.state.name


@dataclass
class Stack:
    settings: Settings
    synth_rate: float = 8.0
    synth_history_min: float = SYNTH_HISTORY_MIN
    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    broker: KafkaBroker | None = None
    redis: LocalRedis | None = None
    _status: redis.Redis | None = None
    _status_failing: bool = False
    _published_at: float = 0.0

    @property
    def logs(self) -> Path:
        return self.settings.home / "logs"

    @property
    def dashboard_url(self) -> str:
        return http_url(self.settings.dashboard_host, self.settings.dashboard_port)

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
            self._add("kafka", self.broker, self.broker.log_file)
            self.env["LYTTE_KAFKA_BOOTSTRAP"] = self.broker.bootstrap
        self._say(f"Kafka at {self.env.get('LYTTE_KAFKA_BOOTSTRAP', s.bootstrap)}")
        if s.redis_url is None:
            self.redis = LocalRedis(s.home / "redis", s.redis_port)
            self._add("redis", self.redis, s.home / "redis" / "redis.log")
            self.env["LYTTE_REDIS_URL"] = self.redis.url
        self._say(f"Redis at {redacted_url(self.env.get('LYTTE_REDIS_URL', s.redis))}")
        self._status = bounded_redis(s, 1.0, self.env.get("LYTTE_REDIS_URL", s.redis))
        create_topics(Settings(kafka_bootstrap=self.env.get("LYTTE_KAFKA_BOOTSTRAP", s.bootstrap)))
        for name in worker_names():
            self._add_child(name, ["worker"])
        dashboard = self._add_child("dashboard", ["dashboard"])
        wait_for(self._dashboard_answers, 60, "the dashboard", dashboard.process, f" (log: {dashboard.log_file})")
        # history first, so that the alert rules are past their warm-up when the scripted incident starts at minute 3
        self._add_child(
            "synth", ["ingest", "synth", "--rate", str(self.synth_rate), "--history", str(self.synth_history_min)]
        )
        self._publish(force=True)

    def _dashboard_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.dashboard_url + "healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def _add(self, name: str, runner: Runner, log_file: Path) -> None:
        """Start a service for the first time: a failure here stops `lytte up` with its message. The service
        is listed first, so that `stop` stops it even when Ctrl-C comes while it starts."""
        service = Service(runner, log_file, Supervised(name))
        self.services.append(service)
        runner.start()
        service.state = on_started(service.state, runner.process.pid, time.time())
        self._say(f"{name} started (pid {runner.process.pid}, log {log_file})")

    def _add_child(self, name: str, args: list[str]) -> Child:
        child = Child(args, self.env, self.logs / f"{name}.log")
        self._add(name, child, child.log_file)
        return child

    def wait(self) -> None:
        """Supervise until interrupted: restart what exits, after its backoff."""
        while True:
            for service in self.services:
                self._supervise(service)
            self._publish()
            time.sleep(0.5)

    def _supervise(self, service: Service) -> None:
        process = service.runner.process
        if service.restart_at is None and process is not None and process.poll() is not None:
            self._exited(service, process.returncode)
        elif service.restart_at is not None and time.time() >= service.restart_at:
            self._restart(service)

    def _exited(self, service: Service, code: int | None) -> None:
        now = time.time()
        service.state, delay = on_exit(service.state, code, now)
        service.restart_at = now + delay
        self._say(f"{exit_line(service.state, delay, now)} (log: {service.log_file})")
        self._publish(force=True)

    def _restart(self, service: Service) -> None:
        service.restart_at = None
        try:
            service.runner.start()
        except (ServiceError, OSError) as e:
            self._say(f"{service.name} did not come back: {e}")
            service.runner.stop()  # it may be running but not answering
            process = service.runner.process
            self._exited(service, process.returncode if process is not None else None)
            return
        pid = service.runner.process.pid
        service.state = on_started(service.state, pid, time.time())
        self._say(f"{service.name} started (pid {pid}, log {service.log_file})")
        self._publish(force=True)

    def _publish(self, force: bool = False) -> None:
        """Write every service's record to the services hash. Redis may be the service that is down: a
        failure is logged once, and the write is tried again on the next round."""
        now = time.time()
        if self._status is None or (not force and now - self._published_at < PUBLISH_EVERY_S):
            return
        mapping = {s.name: json.dumps(record(s.state, now)) for s in self.services}
        try:
            self._status.hset(RedisKeys(self.settings.redis_prefix).services, mapping=mapping)
        except (redis.RedisError, OSError) as e:
            if not self._status_failing:
                self._say(f"cannot write the service states to Redis ({e}); trying again every round")
            self._status_failing = True
            return
        self._published_at = now
        if self._status_failing:
            self._say("service states written to Redis again")
        self._status_failing = False

    def stop(self) -> None:
        now = time.time()
        for service in self.services:
            service.state = on_stopped(service.state, now)
        self._publish(force=True)
        for service in reversed(self.services):
            service.runner.stop()
        if self._status is not None:
            self._status.close()
        self._say("stopped")
