"""What a bench run runs on: one Kafka broker and one Redis for the whole run, and each mode's workers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from schemas.records import BucketMetrics
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from streams.local.kafka.launcher import KafkaBroker
from streams.local.processes import ServiceError, child_env, free_port, spawn_lytte, stop
from streams.local.redis import LocalRedis


@contextlib.contextmanager
def local_services(settings: Settings, home: Path) -> Iterator[Settings]:
    """A broker and a Redis on free loopback ports, unless the settings name existing ones; yields the
    settings that point at them."""
    started: list = []
    try:
        if settings.kafka_bootstrap is None:
            broker = KafkaBroker(home / "kafka", free_port(), free_port(), settings.cache_dir, settings.kafka_home)
            broker.start()
            started.append(broker)
            settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        if settings.redis_url is None:
            server = LocalRedis(home / "redis", free_port())
            server.start()
            started.append(server)
            settings = settings.model_copy(update={"redis_url": server.url})
        yield settings
    finally:
        for service in reversed(started):
            service.stop()


def mode_settings(settings: Settings, run: str, mode: str) -> Settings:
    """Fresh topics, consumer group (app id) and Redis prefix for one mode of one run."""
    name = f"bench{run}-{mode}"
    return settings.model_copy(update={"topic_prefix": name, "app_id": name, "redis_prefix": name})


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the kernel's own record of the process's peak resident set (0 when the process is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(stat: str) -> float:
    """User plus system CPU time from a /proc/<pid>/stat line (fields 14 and 15, in clock ticks).

    >>> cpu_seconds("42 (python -m x) S 1 42 42 0 -1 0 0 0 0 0 250 50 0 0 20 0 3 0") * os.sysconf("SC_CLK_TCK")
    300.0
    """
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Workers:
    """`count` `lytte worker` processes in one consumer group, each with a home and a log of its own."""

    def __init__(
        self, settings: Settings, count: int, home: Path, name: str, env: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.count = count
        self.home = home
        self.name = name
        self.env = env or {}  # variables of their own (a receiver's signing secret)
        self.processes: list[subprocess.Popen] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def log(self, i: int) -> Path:
        return self.home / f"{self.name}-worker-{i + 1}.log"

    def start(self) -> None:
        for i in range(self.count):
            settings = self.settings.model_copy(update={"home": self.home / f"{self.name}-worker-{i + 1}"})
            self.processes.append(spawn_lytte(["worker"], child_env(settings) | self.env, self.log(i)))

    def check(self, what: str) -> None:
        for i, process in enumerate(self.processes):
            if process.poll() is not None:
                raise ServiceError(
                    f"worker {i + 1} exited (code {process.returncode}) while waiting for {what} (log: {self.log(i)})"
                )

    def group_members(self) -> int:
        """Members of the consumer group once it is stable; 0 while it rebalances or does not exist."""
        admin = KafkaAdminClient(bootstrap_servers=self.settings.bootstrap, request_timeout_ms=5000)
        try:
            group = admin.describe_groups([self.settings.app_id]).get(self.settings.app_id) or {}
        except KafkaError:  # no coordinator yet: the group does not exist yet
            return 0
        finally:
            admin.close()
        return len(group.get("members") or []) if group.get("group_state") == "Stable" else 0

    def wait_joined(self, timeout: float) -> None:
        """Until every worker is in the group and the group is stable, so that no rebalance falls into the
        measurement (the warm-up then waits for their table recovery)."""
        wait(lambda: self.group_members() == self.count, timeout, f"{self.count} workers in the group", self, 0.5)

    def peak_rss_mb(self) -> float:
        return max((peak_rss_mb(pid) for pid in self.pids), default=0.0)

    def cpu_seconds(self) -> float:
        """CPU time the workers have used so far, added up."""
        total = 0.0
        for pid in self.pids:
            with contextlib.suppress(OSError):
                total += cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
        return total

    def stop(self) -> None:
        for process in self.processes:
            stop(process)


def wait(check, timeout: float, what: str, workers: Workers, every_s: float = 0.05) -> float:
    """Poll `check` until it holds; returns the time it took. Fails if a worker exits or time runs out."""
    start = time.monotonic()
    while not check():
        workers.check(what)
        if time.monotonic() - start > timeout:
            raise ServiceError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every_s)
    return time.monotonic() - start


def bucket_total(client: redis.Redis, keys: RedisKeys, brands: list[str]) -> int:
    """Posts counted in the Redis buckets of these brands: the sum over every partial bucket (one per brand,
    minute and raw partition), which is the sum over the merged buckets."""
    pipe = client.pipeline(transaction=False)
    for brand in brands:
        pipe.hvals(keys.buckets(brand))
    return sum(BucketMetrics.model_validate_json(v).posts for values in pipe.execute() for v in values)


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> end offset of a topic."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        consumer.close()
