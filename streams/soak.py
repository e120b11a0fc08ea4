"""`lytte soak`: does the worker's state stay flat once the stream is longer than the state horizon?

Every table entry expires by event time (`streams.core.expiry`), so after one horizon the worker should
hold about as much as it ever will: the same number of table entries, about as many changelog bytes (rolled
segments compacted, tombstones dropped), about the same resident memory. The soak runs a broker, Redis and
one worker on loopback, streams synth posts dated now at a steady rate, and samples every `sample_s`:

- the worker's resident set (VmRSS);
- per table, the live entries a recovery would load: each changelog read from the beginning, the latest
  value per key kept, keys whose latest value is a tombstone dropped (and how many records that took);
- per table, the changelog bytes the broker holds (DescribeLogDirs);
- the posts counted (the Redis counters), the lag behind `posts.raw` and the deadlettered posts.

Intake rejects posts older than `max_post_age_s` by the wall clock, so event time cannot run faster than the
wall clock; the soak scales the horizon down instead: max_post_age_s=60 and no future skew give a 120 s
horizon, and 24 minutes at a 2-minute horizon stand for 24 hours at a 2-hour horizon (changelog segments
roll every 30 s, the broker's log cleaner looks every second). The verdict compares each series' mean over
the last third of the run with its mean over the middle third, both after the first horizon has filled
(`settle_s`). Last line:

    soak: minutes=<n> rate=<n> horizon_s=<n> rss_mb_mid=<n> rss_mb_end=<n> entries_mid=<n> entries_end=<n>
    changelog_mb_mid=<n> changelog_mb_end=<n> flat=yes|no   (one line)
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis

from schemas.pipeline import counter_totals, partition_counters
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic
from streams.core.expiry import horizon_s
from streams.local.kafka.launcher import KafkaBroker
from streams.local.processes import ServiceError, child_env, free_port, spawn_lytte, stop
from streams.local.redis import LocalRedis
from streams.topics_admin import create_topics

#: The worker's tables (`streams.agents.app`); faust names each changelog `<app id>-<table>-changelog`.
TABLES = ("partition-counters", "entries", "buckets")
#: The scaled-down horizon: 60 + 0 + 60 = 120 s.
SOAK_SETTINGS = {"max_post_age_s": 60, "max_future_skew_s": 0, "changelog_segment_s": 30}
#: The broker's cleaner looks for dirty logs every second (default 15 s, half a 30 s segment) and deletes
#: cleaned segment files after a second (default 60 s): at this scale the defaults would be hours.
BROKER_OVERRIDES = {"log.cleaner.backoff.ms": "1000", "log.segment.delete.delay.ms": "1000"}
#: Growth of the end mean over the middle mean that still counts as flat, per kind of series; the slack is
#: an absolute allowance for the small series (a four-key table, a changelog of a few hundred kB).
RSS_TOLERANCE = 0.15
ENTRIES_TOLERANCE, ENTRIES_SLACK = 0.10, 100
BYTES_TOLERANCE, BYTES_SLACK = 0.10, 1024 * 1024
READ_TIMEOUT_S = 120.0
START_TIMEOUT_S = 180.0
MB = 1024 * 1024


# -- pure parts ----------------------------------------------------------------------------------------


def latest_values(records: Iterable[tuple[bytes, bytes | None]]) -> dict[bytes, bytes]:
    """What a recovery loads from a changelog: the latest value per key, in log order; a key whose latest
    value is a tombstone (None) is gone.

    Scenario: [(a, 1), (b, 2), (a, 3), (b, None), (c, None)] -> {a: 3}.
    """
    live: dict[bytes, bytes] = {}
    for key, value in records:
        if value is None:
            live.pop(key, None)
        else:
            live[key] = value
    return live


def entry_count(table: str, live: dict[bytes, bytes]) -> int:
    """The entries a table's live records hold: one per key, except that each record of the `entries` table
    is a delta of many dedup and author entries (`streams.core.entries`).

    Scenario: ("buckets", 3 keys) -> 3; ("entries", one delta with 2 seen and 3 author entries) -> 5.
    """
    if table != "entries":
        return len(live)
    return sum(len(d["seen"]) + len(d["authors"]) for d in map(orjson.loads, live.values()))


def windows(end_s: float, settle_s: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The middle window [start, stop) and the last window [start, end] of a run that ends at `end_s`: its
    middle and last thirds, the middle one starting no earlier than `settle_s`.

    Scenario: end 1,440 s, settle 210 s -> ((480, 960), (960, 1440)); end 360 s -> ((210, 240), (240, 360)).
    """
    return (max(end_s / 3, settle_s), 2 * end_s / 3), (2 * end_s / 3, end_s)


def window_means(points: Sequence[tuple[float, float]], settle_s: float) -> tuple[float, float] | None:
    """The mean of (t, value) points over the middle third and over the last third of the run (0 .. the last
    t), the middle third starting no earlier than `settle_s`; None when a window holds no point.

    Scenario: t = 0, 30, ..., 360 s with value = t, settle 180 s: the run's thirds start at 120 and 240 s;
    the middle window is [180, 240) -> mean of 180, 210 = 195; the last is [240, 360] -> 300. (195.0, 300.0).
    """
    if not points:
        return None
    (first, second), (_, end) = windows(max(t for t, _ in points), settle_s)
    middle = [v for t, v in points if first <= t < second]
    last = [v for t, v in points if second <= t <= end]
    if not middle or not last:
        return None
    return sum(middle) / len(middle), sum(last) / len(last)


@dataclass(frozen=True)
class Growth:
    """One series' middle-third and last-third means, and whether the growth is within the allowance.

    Scenario: Growth("rss_mb", mid=200, end=220, tolerance=0.15) -> change 0.10, flat; end=240 -> change
    0.20, not flat. Shrinking is always flat.
    """

    series: str
    mid: float
    end: float
    tolerance: float
    slack: float = 0.0

    @property
    def change(self) -> float:
        if self.mid == 0:
            return 0.0 if self.end == 0 else float("inf")
        return self.end / self.mid - 1

    @property
    def flat(self) -> bool:
        return self.end <= self.mid * (1 + self.tolerance) + self.slack


@dataclass(frozen=True)
class Sample:
    t_s: float
    posts: int  # posts counted (posts_in over partitions, from Redis)
    lag: int  # records of posts.raw not handled yet
    deadlettered: int
    rss_mb: float
    redis_mb: float
    entries: dict[str, int]  # table -> live entries a recovery would load
    records: dict[str, int]  # table -> changelog records a recovery reads
    changelog_bytes: dict[str, int]  # table -> bytes of its changelog on the broker

    @property
    def total_entries(self) -> int:
        return sum(self.entries.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.changelog_bytes.values())


def judge(samples: Sequence[Sample], settle_s: float) -> list[Growth] | None:
    """Every series' growth from the middle to the last third: RSS, entries (in all and per table),
    changelog bytes (in all and per table). None when the run is too short to have both windows.

    Scenario: samples every 30 s for 360 s, settle 180 s; RSS 200 MB, entries 1,000 entries, buckets
    1,000 entries up to 210 s and then 200 more every sample -> entries[buckets] 1,000 -> 1,600 and entries
    2,000 -> 2,600 grow; rss_mb, entries[entries] and the changelog bytes are flat.
    """
    if window_means([(s.t_s, 0.0) for s in samples], settle_s) is None:
        return None

    def growth(series: str, values: Iterable[float], tolerance: float, slack: float = 0.0) -> Growth:
        means = window_means(list(zip((s.t_s for s in samples), values, strict=True)), settle_s)
        assert means is not None  # same times as the check above
        return Growth(series, means[0], means[1], tolerance, slack)

    tables = sorted({t for s in samples for t in s.entries})
    result = [
        growth("rss_mb", (s.rss_mb for s in samples), RSS_TOLERANCE),
        growth("entries", (s.total_entries for s in samples), ENTRIES_TOLERANCE),
        growth("changelog_mb", (s.total_bytes / MB for s in samples), BYTES_TOLERANCE),
    ]
    result += [
        growth(f"entries[{t}]", (s.entries.get(t, 0) for s in samples), ENTRIES_TOLERANCE, ENTRIES_SLACK)
        for t in tables
    ]
    result += [
        growth(
            f"changelog_mb[{t}]", (s.changelog_bytes.get(t, 0) / MB for s in samples), BYTES_TOLERANCE, BYTES_SLACK / MB
        )
        for t in tables
    ]
    return result


def summary_line(minutes: float, rate: float, horizon: int, growths: Sequence[Growth] | None) -> str:
    """The machine-readable last line. Scenario: 24 min, 300 posts/s, horizon 120 s, RSS 200 -> 210 MB,
    entries 40,000 -> 40,100, changelog 12.0 -> 12.5 MB, all flat -> "soak: minutes=24 rate=300 horizon_s=120
    rss_mb_mid=200 rss_mb_end=210 entries_mid=40000 entries_end=40100 changelog_mb_mid=12.0
    changelog_mb_end=12.5 flat=yes". A run too short to judge: every figure "nan", flat=no."""
    by_name = {g.series: g for g in growths or ()}
    nan = float("nan")

    def pair(series: str) -> tuple[float, float]:
        g = by_name.get(series)
        return (g.mid, g.end) if g else (nan, nan)

    rss, entries, mb = pair("rss_mb"), pair("entries"), pair("changelog_mb")
    flat = bool(growths) and all(g.flat for g in growths)
    return (
        f"soak: minutes={minutes:g} rate={rate:g} horizon_s={horizon} rss_mb_mid={rss[0]:.0f} rss_mb_end={rss[1]:.0f} "
        f"entries_mid={entries[0]:.0f} entries_end={entries[1]:.0f} changelog_mb_mid={mb[0]:.1f} "
        f"changelog_mb_end={mb[1]:.1f} flat={'yes' if flat else 'no'}"
    )


def sample_line(s: Sample) -> str:
    tables = " ".join(
        f"{t}={s.entries[t]}/{s.records[t]}/{s.changelog_bytes.get(t, 0) / MB:.1f}MB" for t in sorted(s.entries)
    )
    return (
        f"soak: t={s.t_s:5.0f}s posts={s.posts} lag={s.lag} dead={s.deadlettered} rss_mb={s.rss_mb:.0f} "
        f"redis_mb={s.redis_mb:.1f} entries={s.total_entries} changelog_mb={s.total_bytes / MB:.1f} | {tables}"
    )


def write_csv(path: Path, samples: Sequence[Sample]) -> None:
    tables = sorted({t for s in samples for t in s.entries})
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["t_s", "posts", "lag", "deadlettered", "rss_mb", "redis_mb", "entries", "changelog_bytes"]
            + [f"entries:{t}" for t in tables]
            + [f"records:{t}" for t in tables]
            + [f"changelog_bytes:{t}" for t in tables]
        )
        for s in samples:
            out.writerow(
                [f"{s.t_s:.0f}", s.posts, s.lag, s.deadlettered, f"{s.rss_mb:.1f}", f"{s.redis_mb:.2f}"]
                + [s.total_entries, s.total_bytes]
                + [s.entries.get(t, 0) for t in tables]
                + [s.records.get(t, 0) for t in tables]
                + [s.changelog_bytes.get(t, 0) for t in tables]
            )


# -- measuring -----------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """VmRSS: the process's resident set now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Probe:
    """Reads what the soak samples from the broker: changelogs from the beginning (no group), log sizes,
    the end of posts.raw."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        from kafka import KafkaAdminClient, KafkaConsumer

        self.bootstrap = settings.bootstrap
        self.raw_topic = Topic.POSTS_RAW.name(settings.topic_prefix)
        self.topics = {t: f"{settings.app_id}-{t}-changelog" for t in TABLES}
        self.data_dir = data_dir
        self.consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="lytte-soak",
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=30_000,
        )
        self.admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id="lytte-soak", request_timeout_ms=30_000
        )
        self.log_dirs_failed: str | None = None

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()

    def topics_exist(self) -> bool:
        return set(self.topics.values()) <= set(self.admin.list_topics())

    def _partitions(self, topic: str) -> list:
        from kafka import TopicPartition

        found = self.consumer.partitions_for_topic(topic)
        if not found:
            raise ServiceError(f"topic {topic} has no partitions")
        return [TopicPartition(topic, p) for p in sorted(found)]

    def raw_end(self) -> int:
        return sum(self.consumer.end_offsets(self._partitions(self.raw_topic)).values())

    def read_changelog(self, table: str, timeout_s: float = READ_TIMEOUT_S) -> tuple[int, int]:
        """(live entries, records read): the changelog from its beginning to the end it had when asked."""
        read = 0

        def records() -> Iterator[tuple[bytes, bytes | None]]:
            nonlocal read
            for record in self._read_to_end(self.topics[table], timeout_s):
                read += 1
                yield record.key, record.value

        return entry_count(table, latest_values(records())), read

    def _read_to_end(self, topic: str, timeout_s: float) -> Iterator:
        partitions = self._partitions(topic)
        consumer = self.consumer
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        waiting = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while waiting:
            if time.monotonic() > deadline:
                raise ServiceError(f"reading {topic} took over {timeout_s:.0f} s")
            batches = consumer.poll(timeout_ms=500, max_records=10_000)
            for tp, batch in batches.items():
                for record in batch:
                    if record.offset < ends[tp]:
                        yield record
            waiting = {tp for tp in waiting if consumer.position(tp) < ends[tp]}
        consumer.unsubscribe()

    def changelog_bytes(self) -> dict[str, int]:
        """Bytes of each changelog's log segments, from the broker (DescribeLogDirs); if that API fails,
        the sizes of the segment files in the broker's data folder (the soak's own broker)."""
        if self.log_dirs_failed is None:
            try:
                return self._described_bytes()
            except Exception as exc:  # an older broker or client: fall back to the files
                self.log_dirs_failed = repr(exc)
                print(f"soak: DescribeLogDirs failed ({exc!r}); summing segment files instead", flush=True)
        return {
            table: sum(f.stat().st_size for d in self.data_dir.glob(f"{topic}-*") for f in d.glob("*.log"))
            for table, topic in self.topics.items()
        }

    def _described_bytes(self) -> dict[str, int]:
        sizes = dict.fromkeys(self.topics, 0)
        table_of = {topic: table for table, topic in self.topics.items()}
        for broker in self.admin.describe_log_dirs(list(self.topics.values())):
            for log_dir in broker["log_dirs"]:
                for topic in log_dir["topics"]:
                    if topic["name"] in table_of:
                        sizes[table_of[topic["name"]]] += sum(p["partition_size"] for p in topic["partitions"])
        return sizes


def take_sample(t_s: float, probe: Probe, client: redis.Redis, keys: RedisKeys, worker_pid: int) -> Sample:
    rss = rss_mb(worker_pid)
    raw_end = probe.raw_end()
    counters = partition_counters(client.hgetall(keys.counters))
    totals = counter_totals(counters)
    handled = sum(c.last_offset + 1 for c in counters.values())
    entries, records = {}, {}
    for table in probe.topics:
        entries[table], records[table] = probe.read_changelog(table)
    return Sample(
        t_s=t_s,
        posts=totals["posts_in"],
        lag=raw_end - handled,
        deadlettered=totals["deadlettered"],
        rss_mb=rss,
        redis_mb=int(client.info("memory")["used_memory"]) / MB,
        entries=entries,
        records=records,
        changelog_bytes=probe.changelog_bytes(),
    )


# -- the run -------------------------------------------------------------------------------------------


def settle_time(settings: Settings) -> int:
    """When the state should have stopped growing: the first horizon filled, plus the minute expiry rounds
    to, plus one changelog segment for compaction to see the tombstones: 120 + 60 + 30 = 210 s."""
    return horizon_s(settings) + 60 + settings.changelog_segment_s


def run_soak(
    settings: Settings, minutes: float = 24.0, rate: float = 300.0, sample_s: float = 30.0, out: Path | None = None
) -> bool:
    """Run the soak; print a line per sample and the verdict; True when flat."""
    run = uuid.uuid4().hex[:8]
    home = Path(tempfile.mkdtemp(prefix="lytte-soak-"))
    settings = settings.model_copy(
        update={
            **SOAK_SETTINGS,
            "home": home,
            "topic_prefix": f"soak{run}",
            "app_id": f"soak{run}",
            "redis_prefix": f"soak{run}",
        }
    )
    horizon = horizon_s(settings)
    print(
        f"soak: {minutes:g} min of synth posts dated now at {rate:g} posts/s, state horizon {horizon} s "
        f"(max_post_age_s={settings.max_post_age_s} + skew {settings.max_future_skew_s} s + 60 s): "
        f"{minutes * 60 / horizon:g} horizons, as {minutes:g} hours would be at a {horizon // 60}-hour horizon; "
        f"changelog segments roll every {settings.changelog_segment_s} s; a sample every {sample_s:g} s "
        f"(entries/records read/changelog MB per table); files in {home}",
        flush=True,
    )
    started: list = []
    flat = False
    try:
        broker = None
        if settings.kafka_bootstrap is None:
            broker = KafkaBroker(
                home / "kafka",
                free_port(),
                free_port(),
                settings.cache_dir,
                settings.kafka_home,
                overrides=BROKER_OVERRIDES,
            )
            broker.start()
            started.append(broker)
            settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        else:
            print("soak: LYTTE_KAFKA_BOOTSTRAP is set: its log cleaner runs at that broker's pace", flush=True)
        if settings.redis_url is None:
            server = LocalRedis(home / "redis", free_port())
            server.start()
            started.append(server)
            settings = settings.model_copy(update={"redis_url": server.url})
        data_dir = broker.home / "data" if broker else home / "none"
        samples = _soak(settings, minutes, rate, sample_s, home, data_dir)
        if out is not None:
            write_csv(out, samples)
            print(f"soak: samples written to {out}", flush=True)
        flat = _verdict(samples, settings, minutes, rate)
    finally:
        for service in reversed(started):
            service.stop()
        if flat:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"soak: logs and broker data kept in {home}", flush=True)
    return flat


def _soak(settings: Settings, minutes: float, rate: float, sample_s: float, home: Path, data_dir: Path) -> list[Sample]:
    create_topics(settings)
    env = child_env(settings)
    worker = spawn_lytte(["worker"], env, home / "worker.log")
    source: subprocess.Popen | None = None
    probe: Probe | None = None
    client = redis.Redis.from_url(settings.redis, socket_timeout=30)
    keys = RedisKeys(settings.redis_prefix)
    samples: list[Sample] = []
    try:
        probe = Probe(settings, data_dir)
        _wait(probe.topics_exist, START_TIMEOUT_S, "the worker's changelog topics", [worker])
        print("soak: worker up; streaming", flush=True)
        source_args = ["ingest", "synth", "--rate", f"{rate:g}", "--no-incident", "--seed", "7"]
        source = spawn_lytte(source_args, env, home / "synth.log")
        t0 = time.monotonic()
        n = max(1, round(minutes * 60 / sample_s))
        for k in range(1, n + 1):
            due = t0 + k * sample_s
            _wait(lambda due=due: time.monotonic() >= due, sample_s + 60, "the next sample", [worker, source])
            sample = take_sample(time.monotonic() - t0, probe, client, keys, worker.pid)
            samples.append(sample)
            print(sample_line(sample), flush=True)
        return samples
    finally:
        if source is not None:
            stop(source)
        stop(worker)
        if probe is not None:
            probe.close()
        client.close()


def _wait(check, timeout: float, what: str, children: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for child in children:
            if child.poll() is not None:
                raise ServiceError(f"{' '.join(child.args[3:])} exited ({child.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _verdict(samples: list[Sample], settings: Settings, minutes: float, rate: float) -> bool:
    settle = settle_time(settings)
    growths = judge(samples, settle)
    if growths is None:
        print(f"soak: too short to judge: the middle third must start after {settle} s and hold a sample", flush=True)
    else:
        (a, b), (_, c) = windows(samples[-1].t_s, settle)
        n_mid = sum(1 for x in samples if a <= x.t_s < b)
        n_end = sum(1 for x in samples if b <= x.t_s <= c)
        print(
            f"soak: mean over the middle window {a:.0f}-{b:.0f} s ({n_mid} samples) -> mean over the last window "
            f"{b:.0f}-{c:.0f} s ({n_end} samples); the live entries saw-tooth by a minute of posts (expiry "
            "drops a whole minute at once), so a window needs several minutes to mean anything",
            flush=True,
        )
        for g in growths:
            print(
                f"soak:   {g.series:32} {g.mid:12.1f} -> {g.end:12.1f}  {g.change:+7.1%}  "
                f"{'flat' if g.flat else f'GROWS (allowed {g.tolerance:.0%} + {g.slack:g})'}"
            )
    line = summary_line(minutes, rate, horizon_s(settings), growths)
    print(line, flush=True)
    return line.endswith("flat=yes")
