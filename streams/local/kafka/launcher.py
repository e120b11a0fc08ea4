"""A single-node Apache Kafka 4.x (KRaft) on loopback, from Maven Central jars or an existing KAFKA_HOME.

`fetch_jars` resolves `org.apache.kafka:kafka_2.13` and its runtime dependencies with Maven (pom.xml beside
this file) into the cache; `KafkaBroker` formats a storage folder, writes a config and runs `kafka.Kafka`.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from streams.local.processes import ServiceError, port_open, stop, wait_for

KAFKA_VERSION = "4.1.1"
_HERE = resources.files(__package__)


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ServiceError("java not found: Kafka needs Java 17+ (Debian: apt-get install openjdk-17-jre-headless)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)', out)
    if found and int(found.group(1)) < 17:
        raise ServiceError(
            f"Java {found.group(1)} found: Kafka 4 needs Java 17+ (apt-get install openjdk-17-jre-headless)"
        )
    return java


def jars_dir(cache_dir: Path) -> Path:
    return cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"


def fetch_jars(cache_dir: Path) -> Path:
    """Resolve the broker jars into the cache once; later calls return at once."""
    target = jars_dir(cache_dir)
    if (target / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            "mvn not found: the Kafka jars come from Maven Central (Debian: apt-get install maven), "
            "or set LYTTE_KAFKA_HOME to an unpacked Kafka distribution"
        )
    work = target.parent / "build"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text((_HERE / "pom.xml").read_text())
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(work / "pom.xml"),
            "package",
            f"-Djars.dir={target}",
            f"-Dkafka.version={KAFKA_VERSION}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise ServiceError("Maven could not resolve the Kafka jars: " + " | ".join(tail))
    shutil.rmtree(work, ignore_errors=True)
    return target


def classpath(cache_dir: Path, kafka_home: Path | None) -> str:
    if kafka_home is not None:
        libs = Path(kafka_home) / "libs"
        if not libs.is_dir():
            raise ServiceError(f"LYTTE_KAFKA_HOME={kafka_home} has no libs/ folder: point it at an unpacked Kafka")
        return f"{libs}/*"
    return f"{fetch_jars(cache_dir)}/*"


@dataclass
class KafkaBroker:
    """One KRaft node acting as broker and controller, listening on 127.0.0.1 only."""

    home: Path
    port: int
    controller_port: int
    cache_dir: Path
    kafka_home: Path | None = None
    heap: str = "768m"
    process: subprocess.Popen | None = None
    #: extra server.properties lines (name -> value) after the defaults, e.g. a faster log cleaner for a soak
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    def _config(self) -> Path:
        data = self.home / "data"
        cfg = self.home / "server.properties"
        cfg.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "auto.create.topics.enable=false",  # lytte creates every topic explicitly
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    *(f"{name}={value}" for name, value in self.overrides.items()),
                    "",
                ]
            )
        )
        return cfg

    def start(self, timeout: float = 90.0) -> None:
        java = _require_java()
        if port_open("127.0.0.1", self.port):
            raise ServiceError(
                f"port {self.port} is taken: set LYTTE_KAFKA_PORT, or LYTTE_KAFKA_BOOTSTRAP to use that Kafka"
            )
        self.home = self.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        cp = classpath(self.cache_dir, self.kafka_home)
        cfg = self._config()
        log4j = f"-Dlog4j2.configurationFile={_HERE / 'log4j2.properties'}"
        if not (self.home / "data" / "meta.properties").exists():
            fmt = subprocess.run(
                [
                    java,
                    log4j,
                    "-cp",
                    cp,
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={new_cluster_id()}",
                    "-c",
                    str(cfg),
                ],
                capture_output=True,
                text=True,
            )
            if fmt.returncode != 0:
                raise ServiceError(f"formatting Kafka storage failed: {fmt.stdout.strip()} {fmt.stderr.strip()}")
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [java, f"-Xmx{self.heap}", "-Xms256m", "-XX:+UseG1GC", log4j, "-cp", cp, "kafka.Kafka", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: _answers(self.bootstrap), timeout, "Kafka", self.process, f" (log: {self.log_file})")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=30)
            self.process = None


def new_cluster_id() -> str:
    """Kafka wants a base64url-encoded 16-byte id, like `kafka-storage random-uuid` prints."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _answers(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    host, port = bootstrap.rsplit(":", 1)
    if not port_open(host, int(port)):
        return False
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    except KafkaError:
        return False
    try:
        admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        admin.close()
