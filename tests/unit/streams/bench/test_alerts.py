"""The pure parts of the alerts bench mode: the watch file it writes, its probes, matching arrivals to probes,
its percentiles (a missing notification is never a good number) and the stage breakdown, read from the very
records the pipeline writes (a signal, an alert, a pending delivery, a webhook body)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from schemas.alerts import Delivery
from schemas.records import Evidence
from schemas.signals import Signal
from schemas.watch import parse_watch_config
from streams.alerts.dispatch import Dispatcher
from streams.alerts.engine import AlertEngine
from streams.alerts.signals import SignalPlanner
from streams.bench.alerts import (
    PEOPLE,
    RECEIVER,
    SECRET_ENV,
    AlertResult,
    Arrival,
    Probe,
    alert_times,
    bench_watch,
    decided_times,
    first_arrivals,
    latencies_ms,
    new_secret,
    probe_post,
    signal_times,
    stages,
)
from streams.bench.modes import synth_posts
from streams.core.matching import Matcher
from streams.core.scoring import Scorer
from streams.notify.payloads import alertmanager_v4
from tests.fixtures.factories import REPO

URL = "http://127.0.0.1:8123/hook"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def bench_config():
    """The bench watch file as the mode writes it (YAML text) and as the worker reads it."""
    base = yaml.safe_load((REPO / "config" / "watch.yaml").read_text())
    text = yaml.safe_dump(bench_watch(base, URL), sort_keys=False)
    return text, parse_watch_config(text, "bench.yaml")


def arrival_factory(at: float, *alerts: tuple[str, str, str], webhook_id: str = "msg_1") -> Arrival:
    """An arrival of a body with alerts given as (status, alertname, person)."""
    body = {"alerts": [{"status": s, "labels": {"alertname": a, "person": p}} for s, a, p in alerts]}
    return Arrival(at, webhook_id, body)


# ---- the watch file and the probes ------------------------------------------------------------------------------


def test_the_watch_file_loads_and_names_each_person_once(bench_config):
    _text, watch = bench_config
    handles = [p.handle for p in watch.key_people]
    assert len(handles) == PEOPLE == len(set(handles))
    assert handles[0] == "bench-person-0" and handles[-1] == f"bench-person-{PEOPLE - 1}"
    assert {p.label for p in watch.key_people} == {"journalist"}
    assert [b.id for b in watch.brands] == ["nordair", "fjordbank"], "the shipped brands stay"
    (receiver,) = watch.alerts.receivers
    assert (receiver.name, receiver.type, receiver.url, receiver.secret_env) == (RECEIVER, "webhook", URL, SECRET_ENV)
    route = watch.alerts.route
    assert (route.receiver, route.group_by, route.group_wait_s) == (RECEIVER, ("brand", "person"), 0)
    assert watch.alerts.allow_hosts == ("127.0.0.1",)
    assert watch.alerts.rules.for_brand("nordair")["key_person"].min_followers is None, "key people only"


def test_the_secret_reaches_the_receiver_config_only_through_the_environment(bench_config, monkeypatch):
    text, watch = bench_config
    secret = new_secret()
    assert secret.startswith("whsec_") and secret not in text
    monkeypatch.setenv(SECRET_ENV, secret)
    assert watch.alerts.receivers[0].secrets() == [secret]


def test_a_probe_is_a_notable_post_by_its_key_person_about_the_first_brand(bench_config):
    _text, watch = bench_config
    post = probe_post(7, watch.brands[0], "ab12", NOW)
    assert (post.id, post.text) == ("synth:bench-ab12-probe-7", "@nordair bench probe 7")
    assert post.author.handle == "bench-person-7"
    matcher = Matcher(watch)
    assert [m.brand for m in matcher.brands(post.text)] == ["nordair"]
    assert [(m.person.handle, m.role) for m in matcher.key_people(post.author.handle, post.text)] == [
        ("bench-person-7", "author")
    ]
    (scored,) = Scorer(watch).score(post, Evidence(raw_partition=0, raw_offset=5, raw_timestamp_ms=0))
    notable = SignalPlanner(watch).notable(scored)
    assert notable is not None and [h.handle for h in notable.key_people] == ["bench-person-7"]


def test_background_posts_name_no_key_person(bench_config):
    _text, watch = bench_config
    matcher = Matcher(watch)
    posts = synth_posts(watch, 2000, seed=45, rate=500, incident=None)
    assert not any(matcher.key_people(p.author.handle, p.text) for p in posts)


# ---- matching arrivals to probes -------------------------------------------------------------------------------


def test_the_first_firing_key_person_notification_counts():
    arrivals = [
        arrival_factory(10.4, ("firing", "key_person", "bench-person-1")),
        arrival_factory(11.0, ("firing", "key_person", "bench-person-1")),  # a retry, same webhook id
        arrival_factory(12.0, ("resolved", "key_person", "bench-person-2")),
        arrival_factory(12.5, ("firing", "viral", "bench-person-3")),
        arrival_factory(13.0, ("firing", "key_person", "bench-person-4"), ("firing", "key_person", "bench-person-5")),
    ]
    assert first_arrivals(arrivals) == {"bench-person-1": 10.4, "bench-person-4": 13.0, "bench-person-5": 13.0}
    assert first_arrivals(reversed(arrivals))["bench-person-1"] == 10.4, "earliest, whatever the order"


def test_latency_is_arrival_less_produce_time_and_inf_when_missing():
    probes = [Probe("p0", "synth:a", 100.0), Probe("p1", "synth:b", 100.3)]
    assert latencies_ms(probes, {"p0": 100.45, "other": 100.5}) == pytest.approx([450.0, math.inf])


def test_percentiles_are_nan_when_they_fall_on_a_missing_notification():
    one_missing = AlertResult([float(x) for x in range(1, 100)] + [math.inf], rss_mb=1.0)
    assert (one_missing.received, one_missing.expected) == (99, 100)
    assert (one_missing.p50_ms, one_missing.p99_ms) == (50.0, 99.0)
    two_missing = AlertResult([float(x) for x in range(1, 99)] + [math.inf] * 2, rss_mb=1.0)
    assert two_missing.p50_ms == 50.0 and math.isnan(two_missing.p99_ms)
    none = AlertResult([math.inf] * 10, rss_mb=1.0)
    assert none.received == 0 and math.isnan(none.p50_ms) and math.isnan(none.p99_ms)
    assert math.isnan(AlertResult([], rss_mb=1.0).p50_ms)


@given(
    st.lists(st.floats(0, 10_000, allow_nan=False), min_size=1, max_size=200),
    st.integers(0, 50),
    st.sampled_from([50, 99]),
)
def test_a_percentile_is_known_exactly_when_enough_notifications_arrived(arrived, missing, q):
    result = AlertResult(arrived + [math.inf] * missing, rss_mb=0.0)
    value = result.p50_ms if q == 50 else result.p99_ms
    n = len(arrived) + missing
    assert math.isnan(value) == (len(arrived) < math.ceil(q / 100 * n))
    if not math.isnan(value):
        assert value in arrived


# ---- where the time goes -----------------------------------------------------------------------------------------


def test_stages_split_a_probe_at_its_timestamps():
    probes = [Probe("p0", "synth:a", 100.0), Probe("p1", "synth:b", 101.0)]
    out = stages(
        probes,
        signal_ms={"synth:a": 100_120},
        alert_ms={"p0": 100_300},
        decided_ms={"p0": 100_310, "p1": 101_500},
        arrived={"p0": 100.330},
    )
    assert out == {"worker": [120.0], "engine": [180.0], "dispatcher": [10.0], "sender": [20.0]}


def test_the_breakdown_reads_the_records_the_pipeline_writes(bench_config):
    """A probe through the real pure stages: scored and planned into a signal, applied by the engine, routed by the
    dispatcher, recorded pending and rendered as the webhook body; each reader finds it by post id or person."""
    _text, watch = bench_config
    post = probe_post(3, watch.brands[0], "ab12", NOW)
    (scored,) = Scorer(watch).score(post, Evidence(raw_partition=2, raw_offset=9, raw_timestamp_ms=0))
    signal = Signal(
        raw_partition=2,
        last_offset=9,
        watermark_s=int(NOW.timestamp()),
        posts=(SignalPlanner(watch).notable(scored),),
    )
    records = AlertEngine(watch).apply(signal, 0)
    alerts = [r for r in records if type(r).__name__ == "Alert"]
    assert [a.labels.get("person") for a in alerts] == ["bench-person-3"]
    decided_at = NOW + timedelta(seconds=2)
    (notification,) = Dispatcher(watch.alerts).on_alert(alerts[0], decided_at)
    pending = Delivery(
        webhook_id=notification.webhook_id, receiver=RECEIVER, state="pending", at=decided_at, notification=notification
    )
    delivered = Delivery(webhook_id=notification.webhook_id, receiver=RECEIVER, state="delivered", at=decided_at)
    body = orjson.loads(orjson.dumps(alertmanager_v4(notification, RECEIVER, watch.alerts.external_url)))

    assert signal_times([(1_000, signal.model_dump_json().encode())]) == {"synth:bench-ab12-probe-3": 1_000}
    assert alert_times([(2_000, a.model_dump_json().encode()) for a in alerts]) == {"bench-person-3": 2_000}
    decided = decided_times([(3_000, d.model_dump_json().encode()) for d in (pending, delivered)])
    assert decided == {"bench-person-3": int(decided_at.timestamp() * 1000)}
    assert first_arrivals([Arrival(5.0, notification.webhook_id, body)]) == {"bench-person-3": 5.0}
