"""What the fault cases share: settings on a given broker and Redis, workers whose own exits are counted, a
paced background producer that checks every delivery, dedup-aware expected counts, and the end-of-case
verdict (Redis buckets, metrics topic and pipeline counters against the records produced)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from schemas.pipeline import partition_counters
from schemas.records import Post
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic
from schemas.watch import WatchConfig
from streams.core.dedup import seen_key
from streams.local.processes import child_env, spawn_lytte, stop
from streams.topics_admin import create_topics
from tests.faults.results import CaseResult
from tests.fixtures.workers import Child, counters, metrics_topic_counts, redis_bucket_counts, wait_until
from tests.integration.test_pipeline import expected_counts as expected_counts_all

REPO = Path(__file__).resolve().parents[2]

Record = tuple[bytes | None, bytes]  # (key, value) for posts.raw


# -- settings and topics --------------------------------------------------------------------------------


def make_settings(bootstrap: str, redis_url: str, home: Path, **overrides) -> Settings:
    """Settings for one run: its own topics, consumer group and Redis prefix; topics created."""
    run = uuid.uuid4().hex[:8]
    values = dict(
        kafka_bootstrap=bootstrap,
        redis_url=redis_url,
        topic_prefix=f"f{run}",
        app_id=f"f{run}",
        redis_prefix=f"f{run}",
        partitions=4,
        session_timeout_s=6.0,
        commit_interval_s=1.0,
        home=home,
    )
    settings = Settings(**(values | overrides))
    create_topics(settings)
    return settings


def drop_topics(settings: Settings) -> None:
    """Delete a run's topics (its own and the ones faust made), so that the shared broker stays light."""
    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, request_timeout_ms=10_000)
        try:
            mine = [
                t
                for t in admin.list_topics()
                if t.startswith(f"{settings.topic_prefix}.") or t.startswith(f"{settings.app_id}-")
            ]
            if mine:
                admin.delete_topics(mine)
        finally:
            admin.close()


def watched_brands(watch: WatchConfig) -> list[str]:
    return sorted(w.id for w, _ in watch.watched())


# -- records and what they should count -------------------------------------------------------------------


def post_records(posts: Iterable[Post]) -> list[Record]:
    """As `PostProducer.send` writes them: key = the author (`Post.raw_key`), value = the Post JSON."""
    return [(p.raw_key, p.model_dump_json().encode()) for p in posts]


def expected_counts(watch: WatchConfig, posts: Iterable[Post]) -> Counter:
    """`tests.integration.test_pipeline.expected_counts`, dedup-aware: a post delivered again with the same
    source, author and source id (`streams.core.dedup.seen_key`) counts once (its first delivery; repeats
    share its created_at, so its bucket)."""
    first: dict[str, Post] = {}
    for post in posts:
        first.setdefault(seen_key(post), post)
    return expected_counts_all(watch, first.values())


def differences(expected: Counter, got: dict) -> tuple[int, int]:
    """(lost, double-counted): sums over buckets of max(0, expected - got) and max(0, got - expected)."""
    keys = set(expected) | set(got)
    lost = sum(max(0, expected.get(k, 0) - got.get(k, 0)) for k in keys)
    double = sum(max(0, got.get(k, 0) - expected.get(k, 0)) for k in keys)
    return lost, double


# -- waiting ---------------------------------------------------------------------------------------------


def wait(check: Callable[[], bool], timeout: float, what: str, workers: Workers | None = None) -> None:
    """`wait_until`, bounded, that also fails at once when a worker exits by itself, and treats a Redis or
    Kafka error in the check (a service being restarted) as "not yet"."""

    def probe() -> bool:
        if workers is not None:
            workers.check()
        try:
            return check()
        except (redis.RedisError, OSError, KafkaError):
            return False

    wait_until(probe, timeout, what)


def posts_in(client: redis.Redis, settings: Settings) -> int:
    try:
        return counters(client, settings)["posts_in"]
    except (redis.RedisError, OSError):
        return -1


# -- workers ---------------------------------------------------------------------------------------------


class WorkerStopped(AssertionError):
    pass


@dataclass
class Workers:
    """`lytte worker` children of one case. An exit the test did not cause counts as a worker stop."""

    case: CaseResult
    log_dir: Path
    children: list[Child] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)
    noticed: set[int] = field(default_factory=set)

    def start(self, settings: Settings, name: str = "worker") -> Child:
        log = self.log_dir / f"{name}-{len(self.children)}.log"
        env = child_env(settings) | {"PYTHONUNBUFFERED": "1"}
        proc = spawn_lytte(["worker", "--loglevel", "info"], env, log, cwd=REPO)
        child = Child(f"{name}-{len(self.children)}", proc, log)
        self.children.append(child)
        return child

    def dump_stacks(self) -> None:
        """Ask every live worker to print its tasks' await chains and its threads' stacks into its log."""
        for child in self.children:
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.proc.pid, signal.SIGUSR2)
        time.sleep(3)

    def kill9(self, child: Child) -> None:
        self.killed.add(id(child))
        child.kill9()

    def check(self, raise_: bool = True) -> None:
        for child in self.children:
            if id(child) in self.killed or id(child) in self.noticed or child.proc.poll() is None:
                continue
            self.noticed.add(id(child))
            self.case.worker_stops += 1
            if raise_:
                raise WorkerStopped(
                    f"{child.name} exited by itself with code {child.proc.returncode}:\n{child.output()[-4000:]}"
                )

    def stop_all(self) -> None:
        self.check(raise_=False)
        for child in self.children:
            if child.proc.poll() is None:
                self.killed.add(id(child))
                stop(child.proc, timeout=20)
                with contextlib.suppress(ProcessLookupError):  # anything left in its session
                    os.killpg(child.proc.pid, signal.SIGKILL)

    def log_evidence(self, lines: int = 25) -> str:
        out = []
        pattern = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Error:|too late|[Aa]ssigned|gap", re.I)
        for child in self.children:
            found = [
                line for line in child.output().splitlines() if pattern.search(line) and " deadletter " not in line
            ]
            code = child.proc.poll()
            state = "killed by the test" if id(child) in self.killed else f"exit {code}"
            if code is None:
                state += f", {cpu_seconds(child.proc.pid):.0f} s of CPU"
            out.append(f"--- {child.name} ({state}), {len(found)} notable lines, last {lines}:")
            out += [line[:400] for line in found[-lines:]]
        return "\n".join(out)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- producing -------------------------------------------------------------------------------------------


class Feeder(threading.Thread):
    """Produces records to posts.raw in the background, `rate` records/s (None: as fast as it can), with a
    kafka-python producer that rides out a broker restart (idempotent, retries for up to 10 minutes).
    Every delivery is checked at the end (`result`)."""

    def __init__(self, settings: Settings, records: Sequence[Record], rate: float | None = None) -> None:
        super().__init__(daemon=True, name="fault-feeder")
        self.settings = settings
        self.records = records
        self.rate = rate
        self.sent = 0
        self.error: BaseException | None = None
        self.failed: list[BaseException] = []
        self.finished = threading.Event()

    def run(self) -> None:
        topic = Topic.POSTS_RAW.name(self.settings.topic_prefix)
        futures = []
        try:
            producer = KafkaProducer(
                bootstrap_servers=self.settings.bootstrap,
                client_id="fault-feeder",
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                batch_size=256 * 1024,
                delivery_timeout_ms=600_000,
                max_block_ms=600_000,
                reconnect_backoff_max_ms=2_000,
            )
            try:
                began = time.monotonic()
                for i, (key, value) in enumerate(self.records):
                    if self.rate:
                        ahead = began + i / self.rate - time.monotonic()
                        if ahead > 0.005:
                            time.sleep(ahead)
                    futures.append(producer.send(topic, key=key, value=value))
                    self.sent = i + 1
                producer.flush(timeout=600)
            finally:
                producer.close(timeout=30)
            self.failed = [f.exception for f in futures if f.failed()]
            undone = sum(1 for f in futures if not f.is_done)
            if undone:
                self.error = RuntimeError(f"{undone} sends never completed")
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished.set()

    def result(self, timeout: float) -> int:
        """Wait for the feeder to finish; the number of records delivered, all of them or an AssertionError."""
        self.join(timeout)
        assert not self.is_alive(), f"the feeder did not finish within {timeout:.0f} s ({self.sent} sent)"
        assert self.error is None, f"the feeder failed after {self.sent} records: {self.error!r}"
        assert not self.failed, f"{len(self.failed)} deliveries failed, first: {self.failed[0]!r}"
        return self.sent


def produce_now(settings: Settings, records: Sequence[Record]) -> None:
    feeder = Feeder(settings, records)
    feeder.start()
    feeder.result(600)


# -- evidence --------------------------------------------------------------------------------------------


def raw_ends(settings: Settings) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap)
    try:
        tps = [TopicPartition(Topic.POSTS_RAW.name(settings.topic_prefix), p) for p in range(settings.partitions)]
        return {tp.partition: o for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def offsets_snapshot(settings: Settings) -> str:
    """Committed group offsets and changelog ends, for a failure message."""
    try:
        from tests.integration.test_restart import _offsets

        return _offsets(settings)
    except Exception as exc:
        return f"(offsets unavailable: {exc!r})"


def counter_marks(client: redis.Redis, settings: Settings) -> str:
    try:
        per = partition_counters(client.hgetall(RedisKeys(settings.redis_prefix).counters))
    except (redis.RedisError, OSError) as exc:
        return f"(counters unavailable: {exc!r})"
    return "; ".join(
        f"p{p}: last_offset={c.last_offset} in={c.posts_in} m={c.matched} u={c.unmatched} "
        f"d={c.deadlettered} dup={c.duplicates} scored={c.scored_records}"
        for p, c in sorted(per.items())
    )


# -- the verdict -----------------------------------------------------------------------------------------


@dataclass
class Verdict:
    exact: bool
    lost: int
    double: int
    report: str


def settle(
    case: CaseResult,
    client: redis.Redis,
    settings: Settings,
    watch: WatchConfig,
    expected: Counter,
    n_records: int,
    workers: Workers | None = None,
    *,
    timeout: float = 240.0,
    stall_s: float = 120.0,
    duplicates: int | None = None,
    deadlettered: int | None = None,
    problems: Sequence[str] = (),
    where_lost: Callable[[], str] | None = None,
) -> Verdict:
    """Wait (bounded) until every record is counted and the Redis buckets equal `expected`, then compare
    Redis, the metrics topic and the counters with what was produced. Adds this run's lost and
    double-counted posts to the case; never raises for a mismatch: the caller asserts `verdict.exact`."""
    problems = list(problems)
    brands = watched_brands(watch)
    progress = {"value": -2, "at": time.monotonic()}

    def all_counted() -> bool:
        value, now = posts_in(client, settings), time.monotonic()
        if value != progress["value"]:
            progress.update(value=value, at=now)
        elif now - progress["at"] > stall_s:
            if workers is not None:
                workers.dump_stacks()
            raise AssertionError(f"stalled: posts_in stayed at {value} of {n_records} for {stall_s:.0f} s")
        return value >= n_records

    try:
        wait(all_counted, timeout, f"posts_in = {n_records}", workers)
        counted = True
    except AssertionError as exc:
        problems.append(str(exc).splitlines()[0])
        counted = False
    if counted:
        try:
            wait(
                lambda: redis_bucket_counts(client, settings, brands) == dict(expected),
                60,
                "Redis buckets equal to the posts produced",
                workers,
            )
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
    try:
        got_redis = redis_bucket_counts(client, settings, brands)
        t = counters(client, settings)
    except (redis.RedisError, OSError) as exc:
        problems.append(f"Redis unreadable at the end: {exc!r}")
        got_redis, t = {}, {}
    got_metrics = metrics_topic_counts(settings)
    lost_r, double_r = differences(expected, got_redis)
    lost_m, double_m = differences(expected, got_metrics)
    lost, double = max(lost_r, lost_m), max(double_r, double_m)
    case.lost_posts += lost
    case.double_counted += double

    if got_redis != dict(expected):
        problems.append(f"Redis buckets differ: lost {lost_r}, double-counted {double_r}")
    if got_metrics != dict(expected):
        problems.append(f"metrics topic differs: lost {lost_m}, double-counted {double_m}")
    if t:
        if t["posts_in"] != n_records:
            problems.append(f"posts_in {t['posts_in']} != records produced {n_records}")
        if t["posts_in"] != t["matched"] + t["unmatched"] + t["deadlettered"]:
            problems.append(f"posts_in != matched + unmatched + deadlettered: {t}")
        if t["scored_records"] != sum(expected.values()):
            problems.append(f"scored_records {t['scored_records']} != {sum(expected.values())} expected")
        if duplicates is not None and t["duplicates"] != duplicates:
            problems.append(f"duplicates {t['duplicates']} != {duplicates} expected")
        if deadlettered is not None and t["deadlettered"] != deadlettered:
            problems.append(f"deadlettered {t['deadlettered']} != {deadlettered} expected")
    exact = not problems
    if exact:
        return Verdict(True, 0, 0, "exact")

    keys = sorted(set(expected) | set(got_redis) | set(got_metrics))
    diff = {
        f"{b}@{e}": (got_redis.get((b, e)), got_metrics.get((b, e)), expected.get((b, e)))
        for b, e in keys
        if not (got_redis.get((b, e)) == got_metrics.get((b, e)) == expected.get((b, e)))
    }
    parts = [
        "; ".join(problems),
        f"(redis, metrics, expected) per differing bucket: {diff}",
        f"counter totals: {t}",
        f"counters per raw partition: {counter_marks(client, settings)}",
        f"raw ends: {_safe(lambda: raw_ends(settings))}",
        offsets_snapshot(settings),
    ]
    if where_lost is not None and (lost or double):
        parts.append(_safe(where_lost))
    if workers is not None:
        parts.append(workers.log_evidence())
    return Verdict(False, lost, double, "\n".join(parts))


def _safe(f: Callable[[], object]) -> str:
    try:
        return str(f())
    except Exception as exc:
        return f"({exc!r})"


def kill_process_group(proc: subprocess.Popen) -> None:
    """kill -9 of a child started in its own session (a broker, a redis-server) and everything in it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def expected_duplicates(watch: WatchConfig, posts: Iterable[Post]) -> int:
    """How many of the matched posts repeat a post delivered before them (the `duplicates` counter)."""
    from streams.core.matching import Matcher

    matcher = Matcher(watch)
    seen: set[str] = set()
    repeats = 0
    for post in posts:
        if matcher.brands(post.text):
            repeats += seen_key(post) in seen
            seen.add(seen_key(post))
    return repeats


def ready(child: Child) -> bool:
    """faust logs "[^Worker]: Ready" once the worker has its partitions and recovered its tables."""
    return "[^Worker]: Ready" in child.output()


def settle_posts(
    case: CaseResult,
    client: redis.Redis,
    settings: Settings,
    watch: WatchConfig,
    posts: list[Post],
    n_records: int,
    workers: Workers | None = None,
    **options,
) -> Verdict:
    """`settle` for a case whose records are exactly `posts` (as `post_records` writes them): the expected
    buckets, the duplicates and the where-lost report follow from the posts, and nothing may be deadlettered."""
    from tests.integration.test_restart import _where_lost

    return settle(
        case,
        client,
        settings,
        watch,
        expected_counts(watch, posts),
        n_records,
        workers,
        duplicates=expected_duplicates(watch, posts),
        deadlettered=0,
        where_lost=lambda: _where_lost(settings, watch, posts),
        **options,
    )
