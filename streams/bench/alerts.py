"""The alerts mode: alert latency, from producing a post that should fire an alert to the signed webhook
request arriving at a receiver.

The probe is the key_person rule: one post by a key person about a brand fires an alert the moment the engine
sees it (no window), and with `group_wait_s: 0` and one group per person (`group_by: [brand, person]`) its
notification goes out at once. The mode writes a watch file of its own (the run's watch file with
`PEOPLE` key people `bench-person-0`... and an `alerts:` section with one signed webhook receiver on
loopback), starts its workers with the signing secret in their environment, produces ordinary synth posts at
`BACKGROUND_RATE` (so that the pipeline is busy) and every `PROBE_EVERY_S` one probe post by the next key
person. A probe's latency is the arrival time at the receiver of the first notification whose alert labels
name its person, less the time right before its produce call. A probe whose notification did not arrive
within `ARRIVAL_TIMEOUT_S` counts as infinitely late: a percentile that falls on one is `nan`, never a
number that looks fine.

Where the time goes, per probe, from timestamps the pipeline writes anyway (`stages`): the Kafka timestamp
of the signal that carried the probe (the worker's batch), of the firing alert (the engine), the
notification's `created_at` (the dispatcher) and the arrival (the sender: the `pending` delivery record, then
the POST).
"""

from __future__ import annotations

import base64
import json
import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import yaml
from standardwebhooks.webhooks import Webhook

from schemas.records import Author, Post, Source
from schemas.settings import Settings
from schemas.topics import Topic
from schemas.watch import Watched, parse_watch_config
from streams.bench.latency import percentile
from streams.bench.modes import WARMUP, Bench, ModeRun, synth_posts
from streams.bench.services import Workers
from streams.sources.producer import PostProducer, post_record
from streams.topic_read import read_all

#: key people in the bench watch file; probes take them in turn, the warm-up probe takes the last
PEOPLE = 200
PROBES = 100
PROBE_EVERY_S = 0.3
BACKGROUND_RATE = 500.0
#: background posts before the first probe, so that the first probe meets a busy pipeline
LEAD_S = 2.0
#: how long after the last probe (and after the warm-up probe) notifications may still arrive
ARRIVAL_TIMEOUT_S = 20.0
WARMUP_PROBE_TIMEOUT_S = 60.0
#: the variable that carries the receiver's signing secret to the workers
SECRET_ENV = "LYTTE_BENCH_WEBHOOK_SECRET"
RECEIVER = "bench"
STAGES = ("worker", "engine", "dispatcher", "sender")
STAGE_NAMES = {
    "worker": "post produced -> signal sent (worker batch)",
    "engine": "signal sent -> alert written (engine)",
    "dispatcher": "alert written -> notification decided (dispatcher)",
    "sender": "notification decided -> request arrived (sender)",
}


def person(i: int) -> str:
    return f"bench-person-{i}"


# -- the watch file -----------------------------------------------------------------------------------------


def bench_watch(base: Mapping, receiver_url: str, people: int = PEOPLE, secret_env: str = SECRET_ENV) -> dict:
    """The run's watch file (as loaded YAML) with `people` key people and one signed webhook receiver.

    Scenario: config/watch.yaml, "http://127.0.0.1:8123/hook", people 3 -> its brands and competitors as
    they are; key_people bench-person-0..2 (label journalist) instead of its two; alerts: the shipped rules,
    one webhook receiver "bench" at that URL signed with the secret in $LYTTE_BENCH_WEBHOOK_SECRET, a route
    grouping by brand and person with group_wait 0, and 127.0.0.1 allowed."""
    config = {k: v for k, v in base.items() if k not in ("key_people", "alerts")}
    config["key_people"] = [
        {"handle": f"@{person(i)}", "label": "journalist", "name": f"Bench Person {i}"} for i in range(people)
    ]
    config["alerts"] = {
        "receivers": [{"name": RECEIVER, "type": "webhook", "url": receiver_url, "secret_env": secret_env}],
        "route": {
            "receiver": RECEIVER,
            "group_by": ["brand", "person"],
            "group_wait_s": 0,
            "group_interval_s": 1,
            "repeat_interval_s": 3600,
        },
        "allow_hosts": ["127.0.0.1"],
    }
    return config


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


# -- probes and background ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    person: str
    post_id: str
    produced_at: float  # epoch seconds, right before the produce call


def probe_post(i: int, brand: Watched, run: str, at: datetime) -> Post:
    """Key person i's post about the brand, dated `at`.

    Scenario: i 7, nordair (handle @nordair), run "ab12" -> "@nordair bench probe 7" by @bench-person-7, id
    "synth:bench-ab12-probe-7"."""
    mention = f"@{brand.handles[0]}" if brand.handles else brand.name
    return Post(
        source=Source.SYNTH,
        source_id=f"bench-{run}-probe-{i}",
        created_at=at,
        text=f"{mention} bench probe {i}",
        language="en",
        author=Author(id=f"bench-{person(i)}", handle=person(i), display_name=f"Bench Person {i}", followers=1000),
    )


def dated(post: Post, at: datetime) -> Post:
    """The post as if written at `at` (the worker refuses posts from the future and the engine runs on event
    time, so background posts are dated when they are sent)."""
    return post.model_copy(update={"created_at": at})


# -- the receiver ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at: float  # epoch seconds, when the request's body was read
    webhook_id: str
    body: dict


class LoopbackReceiver:
    """A real HTTP server on 127.0.0.1 in a thread: every POST is verified with `standardwebhooks` (401 if the
    signature is wrong) and recorded with its arrival time."""

    def __init__(self, secret: str) -> None:
        self._verifier = Webhook(secret)
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self.refused = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                at = time.time()
                try:
                    receiver._verifier.verify(body, dict(self.headers))
                    arrival = Arrival(at, self.headers["webhook-id"], json.loads(body))
                except Exception:
                    with receiver._lock:
                        receiver.refused += 1
                    self._answer(401)
                    return
                with receiver._lock:
                    receiver._arrivals.append(arrival)
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        return Handler

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- matching and figures ---------------------------------------------------------------------------------------


def first_arrivals(arrivals: Iterable[Arrival]) -> dict[str, float]:
    """Person -> the earliest arrival of a notification with a firing key_person alert naming them.

    Scenario: bench-person-1's alert arrives at 10.4 and again (a retry, same webhook id) at 11.0, a resolved
    notice for bench-person-2 at 12.0 -> {"bench-person-1": 10.4}."""
    first: dict[str, float] = {}
    for arrival in arrivals:
        for alert in arrival.body.get("alerts", []):
            labels = alert.get("labels", {})
            name = labels.get("person")
            if alert.get("status") == "firing" and labels.get("alertname") == "key_person" and name:
                first[name] = min(first.get(name, math.inf), arrival.at)
    return first


def latencies_ms(probes: Sequence[Probe], arrived: Mapping[str, float]) -> list[float]:
    """Per probe, arrival less produce time in ms; `inf` for a probe whose notification never came.

    Scenario: probes of p0 at 100.0 and p1 at 100.3, p0 arrived at 100.45 -> [450.0, inf]."""
    return [(arrived[p.person] - p.produced_at) * 1000 if p.person in arrived else math.inf for p in probes]


def known(value: float) -> float:
    """A figure as reported: a percentile that fell on a missing notification (inf) is not known (nan)."""
    return math.nan if math.isinf(value) else value


@dataclass
class AlertResult:
    latencies_ms: list[float]  # one per probe; inf when its notification did not arrive
    rss_mb: float
    refused: int = 0  # requests whose signature did not verify
    stages_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def expected(self) -> int:
        return len(self.latencies_ms)

    @property
    def received(self) -> int:
        return sum(not math.isinf(x) for x in self.latencies_ms)

    @property
    def p50_ms(self) -> float:
        return known(percentile(self.latencies_ms, 50))

    @property
    def p99_ms(self) -> float:
        return known(percentile(self.latencies_ms, 99))


def stages(
    probes: Sequence[Probe],
    signal_ms: Mapping[str, int],
    alert_ms: Mapping[str, int],
    decided_ms: Mapping[str, int],
    arrived: Mapping[str, float],
) -> dict[str, list[float]]:
    """Per stage, the ms each probe spent in it, for the probes whose both ends are known: `signal_ms` by
    post id (the signal that carried it), `alert_ms` and `decided_ms` (the notification's created_at) by
    person, all epoch ms; `arrived` by person in epoch seconds.

    Scenario: a probe of p0 produced at 100.000 s, its signal at 100_120 ms, its alert at 100_300, its
    notification decided at 100_310, arrived at 100.330 s -> worker [120], engine [180], dispatcher [10],
    sender [20]."""
    out: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for p in probes:
        marks = [
            p.produced_at * 1000,
            signal_ms.get(p.post_id),
            alert_ms.get(p.person),
            decided_ms.get(p.person),
            arrived[p.person] * 1000 if p.person in arrived else None,
        ]
        for stage, start, end in zip(STAGES, marks[:-1], marks[1:], strict=True):
            if start is not None and end is not None:
                out[stage].append(round(end - start, 1))
    return out


def signal_times(records: Iterable[tuple[int, bytes]]) -> dict[str, int]:
    """Post id -> Kafka timestamp (ms) of the first signal that carried it as a notable post."""
    out: dict[str, int] = {}
    for ts, value in records:
        for post in orjson.loads(value).get("posts", []):
            out.setdefault(post["post_id"], ts)
    return out


def alert_times(records: Iterable[tuple[int, bytes]]) -> dict[str, int]:
    """Person -> Kafka timestamp (ms) of the first firing key_person alert naming them."""
    out: dict[str, int] = {}
    for ts, value in records:
        alert = orjson.loads(value)
        labels = alert.get("labels", {})
        if alert.get("status") == "firing" and labels.get("alertname") == "key_person" and "person" in labels:
            out.setdefault(labels["person"], ts)
    return out


def decided_times(records: Iterable[tuple[int, bytes]]) -> dict[str, int]:
    """Person -> when the dispatcher decided the first notification naming them (its `created_at`, epoch ms),
    from the `pending` delivery records, which carry the notification."""
    out: dict[str, int] = {}
    for _ts, value in records:
        delivery = orjson.loads(value)
        n = delivery.get("notification")
        if delivery.get("state") != "pending" or not n:
            continue
        at = int(datetime.fromisoformat(n["created_at"]).timestamp() * 1000)
        for alert in n["alerts"]:
            name = alert.get("labels", {}).get("person")
            if name and alert.get("status") == "firing":
                out[name] = min(out.get(name, at), at)
    return out


def read_topic(settings: Settings, topic: str) -> list[tuple[int, bytes]]:
    """(timestamp ms, value) of every record of a topic."""
    return [(r.timestamp, r.value) for r in read_all(settings, topic, timeout_s=30) if r.value is not None]


# -- the mode -------------------------------------------------------------------------------------------------


class AlertRun(ModeRun):
    def __init__(self, bench: Bench, env: Mapping[str, str]) -> None:
        super().__init__(bench, "alerts")
        self.workers = Workers(self.settings, bench.workers, bench.home, "alerts", dict(env))

    def wait_arrived(self, receiver: LoopbackReceiver, people: set[str], timeout: float) -> dict[str, float]:
        """Until a notification naming each of `people` arrived, or `timeout` s; returns what arrived."""
        deadline = time.monotonic() + timeout
        while True:
            arrived = first_arrivals(receiver.arrivals())
            if people <= arrived.keys() or time.monotonic() > deadline:
                return arrived
            self.workers.check("alert notifications")
            time.sleep(0.05)

    def probe_and_background(
        self, background: list[Post], brand: Watched, run: str, probes: int, first: int = 0
    ) -> list[Probe]:
        """Background posts at BACKGROUND_RATE, dated as sent, and from LEAD_S on one probe every
        PROBE_EVERY_S (probes `first`...`first + probes - 1`); the probes go through a producer of their own,
        flushed after each, so that none waits behind background records or in a linger."""
        sent: list[Probe] = []
        with PostProducer(self.settings) as posts, PostProducer(self.settings) as probe_producer:
            t0 = time.perf_counter()
            i = 0
            while len(sent) < probes:
                now = time.perf_counter() - t0
                due = LEAD_S + len(sent) * PROBE_EVERY_S
                if now >= due:
                    k = first + len(sent)
                    post = probe_post(k, brand, run, datetime.now(UTC))
                    key, value = post_record(post)
                    produced_at = time.time()
                    probe_producer.send_raw(key, value)
                    probe_producer.flush()
                    sent.append(Probe(person(k), post.id, produced_at))
                    continue
                if i < len(background) and i / BACKGROUND_RATE <= now:
                    posts.send_raw(*post_record(dated(background[i], datetime.now(UTC))))
                    i += 1
                    continue
                next_post = i / BACKGROUND_RATE if i < len(background) else math.inf
                time.sleep(max(0.0, min(due, next_post) - now))
        if background:
            print(f"bench: alerts: sent {len(sent)} probes among {i:,} background posts", flush=True)
        return sent

    def breakdown(self, probes: Sequence[Probe], arrived: Mapping[str, float]) -> dict[str, list[float]]:
        prefix = self.settings.topic_prefix
        return stages(
            probes,
            signal_times(read_topic(self.settings, Topic.SIGNALS.name(prefix))),
            alert_times(read_topic(self.settings, Topic.ALERTS.name(prefix))),
            decided_times(read_topic(self.settings, Topic.DELIVERIES.name(prefix))),
            arrived,
        )


def alert_latency(bench: Bench, probes: int = PROBES) -> AlertResult:
    """Alert latency under a background of BACKGROUND_RATE synth posts/s (see the module docstring)."""
    if probes >= PEOPLE:
        raise ValueError(f"at most {PEOPLE - 1} probes (one key person each, and one for the warm-up)")
    started = time.monotonic()
    secret = new_secret()
    with LoopbackReceiver(secret) as receiver:
        path = bench.home / "alerts-watch.yaml"
        base = yaml.safe_load(bench.settings.watch_config.read_text())
        path.write_text(yaml.safe_dump(bench_watch(base, receiver.url), sort_keys=False))
        watch = parse_watch_config(path.read_text(), str(path))
        alert_bench = replace(bench, settings=bench.settings.model_copy(update={"watch_config": path}), watch=watch)
        brand = watch.brands[0]
        count = math.ceil(BACKGROUND_RATE * (LEAD_S + probes * PROBE_EVERY_S)) + WARMUP
        print(
            f"bench: alerts: {probes} key-person probes about {brand.id}, one every {PROBE_EVERY_S} s, among "
            f"{BACKGROUND_RATE:,.0f} synth posts/s; {PEOPLE} key people; receiver on {receiver.url}",
            flush=True,
        )
        background = synth_posts(watch, count, seed=45, rate=BACKGROUND_RATE, incident=None)
        warmup, background = background[:WARMUP], background[WARMUP:]
        with AlertRun(alert_bench, {SECRET_ENV: secret}) as run:
            run.warm_up([dated(p, datetime.now(UTC)) for p in warmup])
            warm = run.probe_and_background([], brand, bench.run, 1, first=PEOPLE - 1)
            arrived = run.wait_arrived(receiver, {warm[0].person}, WARMUP_PROBE_TIMEOUT_S)
            if warm[0].person not in arrived:
                print(
                    f"bench: alerts: the warm-up probe's notification did not arrive within "
                    f"{WARMUP_PROBE_TIMEOUT_S:.0f} s (refused requests: {receiver.refused}; logs: "
                    f"{run.workers.log(0)}); not measuring",
                    flush=True,
                )
                return AlertResult([math.inf] * probes, run.workers.peak_rss_mb(), receiver.refused)
            print(f"bench: alerts: warm-up probe notified in {latencies_ms(warm, arrived)[0]:.0f} ms", flush=True)
            start_ms = int(time.time() * 1000)
            sent = run.probe_and_background(background, brand, bench.run, probes)
            arrived = run.wait_arrived(receiver, {p.person for p in sent}, ARRIVAL_TIMEOUT_S)
            pipeline = run.listener.since(start_ms)
            result = AlertResult(
                latencies_ms(sent, arrived), run.workers.peak_rss_mb(), receiver.refused, run.breakdown(sent, arrived)
            )
    report(result, pipeline, time.monotonic() - started)
    return result


def report(r: AlertResult, pipeline_ms: Sequence[int], seconds: float) -> None:
    if r.received < r.expected:
        print(
            f"bench: alerts: {r.expected - r.received} of {r.expected} notifications did not arrive within "
            f"{ARRIVAL_TIMEOUT_S:.0f} s of the last probe (a percentile that falls on one is nan)",
            flush=True,
        )
    if r.refused:
        print(f"bench: alerts: {r.refused} requests refused: their signature did not verify", flush=True)
    print(
        f"bench: alerts: {r.received}/{r.expected} notified; alert latency p50 {r.p50_ms:.0f} ms p99 "
        f"{r.p99_ms:.0f} ms (goal p99 <= 2000 ms); background posts reached Redis p50 "
        f"{percentile(pipeline_ms, 50):.0f} ms p99 {percentile(pipeline_ms, 99):.0f} ms; "
        f"worker peak RSS {r.rss_mb:.0f} MB; the mode took {seconds:.0f} s",
        flush=True,
    )
    print("bench: alerts: where the time goes (p50 / p99 / max ms over the probes):", flush=True)
    for stage in STAGES:
        samples = r.stages_ms.get(stage, [])
        print(
            f"bench: alerts:   {STAGE_NAMES[stage]:<52} {percentile(samples, 50):>7.0f} / "
            f"{percentile(samples, 99):>7.0f} / {max(samples, default=math.nan):>7.0f} ({len(samples)} probes)",
            flush=True,
        )
