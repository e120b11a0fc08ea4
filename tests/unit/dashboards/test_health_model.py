"""The health page's decisions: lag, throughput, liveness, deadletters, webhooks, sources, and what the page says
when Kafka or Redis stopped answering (the last figures, marked old)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from dashboards.health_model import (
    BAD,
    OK,
    PREVIEW_BYTES,
    WARNING,
    CounterSamples,
    GroupInfo,
    HealthView,
    KafkaFigures,
    Member,
    PipelineReading,
    Probe,
    RedisFigures,
    Sample,
    Throughput,
    clock,
    deadletter_record,
    deadletter_rows,
    group_info,
    lag_rows,
    lag_topics,
    newest_deadletters,
    parse_services,
    partition_rows,
    receiver_rows,
    redis_figures,
    service_rows,
    source_rows,
    summarise,
    throughput,
    value_preview,
    worker_rows,
    worst,
)
from schemas.pipeline import PartitionCounters, pipeline_status

NOW = 1_795_000_000_000  # epoch ms
S = 1000
RAW = "lytte.posts.raw"


def iso(ms: int) -> str:
    """As orjson writes a datetime: "2026-11-18T08:00:00+00:00"."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def member(short: str = "5a90ce6b", host: str = "10.0.0.7", partitions=((RAW, 0), (RAW, 1))) -> Member:
    return Member(short, host, "faust-0.15.3", tuple(partitions))


# -- parsing -------------------------------------------------------------------------------------------------------


def test_group_info_reads_members_and_their_partitions_from_describe_groups():
    described = {
        "group_state": "Stable",
        "error": None,
        "members": [
            {
                "member_id": "faust-0.15.3-5a90ce6b-15f9-46d2-a8c9-0dc06c7c400c",
                "client_id": "faust-0.15.3",
                "client_host": "/10.0.0.7",
                "member_assignment": {
                    "assigned_partitions": [
                        {"topic": RAW, "partitions": [1, 0]},
                        {"topic": "lytte-buckets-changelog", "partitions": [0]},
                    ]
                },
            },
            {"member_id": "m2", "client_id": "", "client_host": "/10.0.0.8", "member_assignment": b"\x00\x01"},
        ],
    }
    info = group_info(described)
    assert info.state == "Stable"
    first, second = info.members
    assert first.label == "10.0.0.7 · 5a90ce6b"
    assert first.partitions == (("lytte-buckets-changelog", 0), (RAW, 0), (RAW, 1))
    assert second.partitions == ()  # an assignment kafka-python could not decode
    assert group_info(None) == GroupInfo("unknown")
    assert group_info({"error": "GroupAuthorizationFailed", "members": []}).state == "unknown"


def test_lag_topics_are_posts_raw_and_what_the_group_consumes_but_not_faust_internals():
    group = GroupInfo("Stable", (member(partitions=[(RAW, 0), ("lytte-counters-changelog", 0)]),))
    assert lag_topics("lytte", RAW, {("lytte.signals", 0): 4}, group) == [RAW, "lytte.signals"]
    assert lag_topics("lytte", RAW, {}, GroupInfo("Dead")) == [RAW]


def test_deadletter_record_reads_reason_and_origin_from_headers_and_keeps_the_head_of_the_value():
    headers = [
        ("lytte.reason", b"invalid UTF-8 at byte 0"),
        ("lytte.source.topic", RAW.encode()),
        ("lytte.source.partition", b"1"),
        ("lytte.source.offset", b"17"),
    ]
    r = deadletter_record(2, 5, NOW, headers, b"author-1", b"\xff" * (PREVIEW_BYTES + 10))
    assert (r.reason, r.source_topic, r.source_partition, r.source_offset) == ("invalid UTF-8 at byte 0", RAW, 1, 17)
    assert r.size == PREVIEW_BYTES + 10 and len(r.head) == PREVIEW_BYTES and r.key_str == "2:5"
    bare = deadletter_record(0, 0, NOW, None, None, None)
    assert bare.reason == "(no reason recorded)" and bare.source_partition is None and bare.head is None


def test_newest_deadletters_are_the_newest_across_partitions():
    records = [deadletter_record(p, o, NOW + 10 * o + p, [], None, b"x") for p in range(3) for o in range(30)]
    newest = newest_deadletters(records, 20)
    assert len(newest) == 20
    assert [r.timestamp_ms for r in newest] == sorted((r.timestamp_ms for r in records), reverse=True)[:20]


def test_value_preview_replaces_bytes_that_are_not_utf8_and_says_so():
    value = b'{"text": "caf\xe9"}'
    p = value_preview(value, len(value))
    assert p.text == '{"text": "caf\ufffd"}' and p.replaced and not p.cut


def test_value_preview_cuts_at_ten_kb_without_breaking_a_character():
    value = b"a" * (PREVIEW_BYTES - 1) + "é".encode() + b"tail"
    p = value_preview(value[:PREVIEW_BYTES], len(value))
    assert p.cut and p.shown == PREVIEW_BYTES and p.size == len(value)
    assert p.text == "a" * (PREVIEW_BYTES - 1)  # the cut split "é": dropped, not replaced
    assert not p.replaced
    assert value_preview(None, 0).empty
    hostile = value_preview(b"<script>alert(1)</script>", 25)
    assert hostile.text == "<script>alert(1)</script>"  # text; the page puts it in a <pre> as a string


def test_parse_services_names_each_and_marks_the_unreadable():
    fields = {b"worker": orjson.dumps({"state": "running", "pid": 4}), b"dashboard": b"{not json"}
    assert parse_services(fields) == [
        {"name": "dashboard", "state": "unreadable"},
        {"name": "worker", "state": "running", "pid": 4},
    ]


def test_redis_figures_from_one_round_trip():
    f = redis_figures(
        NOW,
        {b"posts_in:0": b"3", b"last_offset:0": b"2"},
        b"1700000000000",
        1,
        {},
        {b"oncall": b'{"queued": 2}', b"broken": b"{not json"},
        {},
    )
    assert f.counters[0].posts_in == 3 and f.updated_ms == 1_700_000_000_000 and f.configured
    assert f.receivers == [{"queued": 2, "receiver": "oncall"}]
    assert f.sources is None  # no source has reported
    assert redis_figures(NOW, {}, None, 0, {}, {}, {b"x": b"[1]"}).sources == {"x": None}
    with pytest.raises(ValueError):
        redis_figures(NOW, {}, b"soon", 0, {}, {}, {})


def test_a_failed_probe_keeps_the_last_answer_and_the_start_of_the_spell():
    down = Probe(True, 3.0, NOW - 10 * S).failed(NOW, "ConnectionError: refused")
    assert down == Probe(False, 3.0, NOW - 10 * S, NOW, "ConnectionError: refused")
    assert down.failed(NOW + 5 * S, "again").since_ms == NOW
    assert Probe(None).failed(NOW, "x").since_ms == NOW


# -- throughput ----------------------------------------------------------------------------------------------------


def test_throughput_over_the_newest_minute_per_partition():
    samples = [Sample(-30, {0: 0, 1: 0}), Sample(0, {0: 100, 1: 50}), Sample(30, {0: 400}), Sample(60, {0: 700, 1: 50})]
    t = throughput(samples)
    assert t.per_s == pytest.approx(10.0) and t.span_s == 60
    assert t.partitions == {0: pytest.approx(10.0), 1: 0.0}
    assert throughput([Sample(0, {0: 1})]).per_s is None
    assert throughput([Sample(0, {0: 1}), Sample(1, {0: 5})]).per_s is None  # under MIN_SPAN_S: measuring
    assert throughput([Sample(0, {}), Sample(10, {3: 50})]).partitions == {3: 5.0}  # a new partition counts from 0


def test_counter_samples_are_spaced_trimmed_and_start_over_when_a_counter_goes_down():
    samples = CounterSamples()
    samples.add(0.0, {0: 10})
    samples.add(0.5, {0: 11})  # within a second of the last: not kept
    samples.add(1.0, {0: 12})
    assert [s.at_s for s in samples.samples] == [0.0, 1.0]
    samples.add(100.0, {0: 20})
    assert [s.at_s for s in samples.samples] == [100.0]  # older than 70 s dropped
    samples.add(102.0, {0: 3})  # the view was rebuilt
    assert [s.posts_in for s in samples.samples] == [{0: 3}]


# -- rows ----------------------------------------------------------------------------------------------------------


def figures(group: GroupInfo, committed=None, ends=None, begins=None, deadletters=()) -> KafkaFigures:
    return KafkaFigures(NOW, group, committed or {}, begins or {}, ends or {}, tuple(deadletters))


def test_lag_per_partition_with_owner_and_a_total_per_topic():
    group = GroupInfo("Stable", (member(partitions=[(RAW, 0), (RAW, 1)]),))
    rows = lag_rows(figures(group, {(RAW, 0): 90, (RAW, 1): 50}, {(RAW, 0): 100, (RAW, 1): 50}))
    assert [r.cells for r in rows] == [
        (RAW, "0", "90", "100", "10", "10.0.0.7 · 5a90ce6b"),
        (RAW, "1", "50", "50", "0", "10.0.0.7 · 5a90ce6b"),
        (RAW, "total", "", "150", "10", ""),
    ]
    assert [r.state for r in rows] == [OK, OK, OK]


def test_lag_without_an_owner_is_bad_and_nothing_committed_counts_from_the_log_start():
    rows = lag_rows(figures(GroupInfo("Empty"), {}, {(RAW, 0): 100}, {(RAW, 0): 40}))
    assert rows[0].cells == (RAW, "0", "none", "100", "60", "none") and rows[0].state == BAD
    assert rows[-1].state == BAD  # the total carries the worst
    rebalancing = lag_rows(figures(GroupInfo("PreparingRebalance", (member(),)), {(RAW, 0): 1}, {(RAW, 0): 5}))
    assert rebalancing[0].state == WARNING


def stalled_reading() -> PipelineReading:
    counters = {
        0: PartitionCounters(last_offset=9, posts_in=10, handled_ms=NOW - 2 * S),
        1: PartitionCounters(last_offset=19, posts_in=20, deadlettered=1, handled_ms=NOW - 200 * S),
    }
    first_waiting = {1: NOW - 40 * S}
    return PipelineReading(pipeline_status({0: 10, 1: 50}, counters, NOW, first_waiting), first_waiting, NOW)


def test_partition_rows_judge_stalled_like_the_wall():
    rates = Throughput(2.0, {0: 2.0, 1: 0.0}, 60)
    rows = partition_rows(stalled_reading(), rates, {(RAW, 0): "w1"}, RAW, NOW)
    assert rows[0].cells == ("0", "10", "10", "0", "0", "2.0", "2 s ago", "w1") and rows[0].state == OK
    assert rows[1].cells[:5] == ("1", "50", "20", "1", "30") and rows[1].state == BAD
    assert rows[1].data == {"partition": "1", "lag": "30", "stalled": "1"}


def test_worker_rows_say_stalled_alive_rebalancing_or_no_worker():
    reading = stalled_reading()
    rows = worker_rows(GroupInfo("Stable", (member(),)), "lytte", RAW, reading, NOW)
    assert rows[0].cells == ("pipeline", "pipeline: STALLED (partition 1: records waiting, nothing handled for 40 s)")
    assert rows[0].state == BAD
    assert rows[1].cells == ("worker 10.0.0.7 · 5a90ce6b", "alive · posts.raw partitions 0, 1 · group Stable")
    assert rows[1].state == OK
    empty = worker_rows(GroupInfo("Empty"), "lytte", RAW, None, NOW)
    assert empty[0].cells == ("consumer group lytte", "no worker: the group is Empty") and empty[0].state == BAD
    assert worker_rows(None, "lytte", RAW, None, NOW)[0].state == WARNING
    unknown = worker_rows(GroupInfo("unknown", error="CoordinatorNotAvailableError"), "lytte", RAW, None, NOW)
    assert unknown[0].cells[1] == "unknown: CoordinatorNotAvailableError" and unknown[0].state == WARNING
    moving = worker_rows(GroupInfo("CompletingRebalance", (member(),)), "lytte", RAW, None, NOW)
    assert moving[0].state == WARNING and moving[0].cells[1].startswith("rebalancing")


def test_service_rows_from_lytte_up():
    rows = service_rows(
        [
            {"name": "worker", "state": "running", "pid": 42, "restarts": 2, "restarts_recent": 1},
            {"name": "dashboard", "state": "running", "pid": 43, "restarts": 0},
            {"name": "synth", "state": "stopped", "pid": None, "last_exit_code": 1, "last_exit_ms": NOW - 5 * S},
        ],
        NOW,
    )
    assert rows[0].cells == ("worker", "running · pid 42 · restarts 2 (1 in the last 10 min)")
    assert [r.state for r in rows] == [WARNING, OK, BAD]
    assert rows[2].cells[1] == "stopped · last exit code 1 5 s ago"


def test_receiver_rows_highlight_disabled_and_failing_receivers():
    rows = receiver_rows(
        [
            {
                "receiver": "oncall",
                "type": "generic",
                "host": "hooks.example.com",
                "queued": 2,
                "disabled": True,
                "disabled_since": iso(NOW - 3600 * S),
                "disabled_reason": "HTTP 410 Gone",
                "failed": 1,
            },
            {
                "receiver": "slack",
                "type": "slack",
                "host": "hooks.slack.com",
                "queued": 1,
                "last_attempt_at": iso(NOW - 30 * S),
                "last_status_code": 503,
                "last_error": "HTTP 503",
                "next_attempt_at": iso(NOW + 30 * S),
                "delivered": 7,
            },
            {"receiver": "pd", "type": "pagerduty", "host": "events.pagerduty.com", "queued": 0, "delivered": 3},
        ],
        NOW,
    )
    assert [r.state for r in rows] == [BAD, WARNING, OK]
    assert rows[0].cells[8].startswith("DISABLED since ") and rows[0].cells[8].endswith(": HTTP 410 Gone")
    assert rows[0].data == {"receiver": "oncall", "disabled": "1"}
    assert rows[1].cells[7] == "HTTP 503 30 s ago"
    assert rows[1].cells[8] == f"HTTP 503 · next try {clock(NOW + 30 * S, NOW)}"


def test_source_rows_from_the_sources_reports():
    reports = {
        "x": {"state": "connected", "last_event_ms": NOW - 5 * S, "events_per_min": 120, "reconnects": 0, "gaps": 0},
        "mastodon": {"state": "reconnecting", "last_event_ms": NOW - 60 * S, "reconnects": 3, "gaps": 1},
        "bluesky": {"state": "connected", "last_event_ms": NOW - 3600 * S},
        "meta": {"state": "failed"},
        "broken": None,
    }
    rows = {r.cells[0]: r for r in source_rows(reports, NOW)}
    assert rows["x"].cells == ("x", "connected", "5 s ago", "120", "0", "0") and rows["x"].state == OK
    assert rows["mastodon"].state == WARNING
    assert rows["bluesky"].state == WARNING  # connected, but nothing for an hour
    assert rows["meta"].state == BAD and rows["broken"].state == BAD


def test_deadletter_rows_show_time_reason_origin_and_size():
    headers = [("lytte.reason", b"invalid JSON"), ("lytte.source.topic", RAW.encode())]
    headers += [("lytte.source.partition", b"1"), ("lytte.source.offset", b"17")]
    row = deadletter_rows([deadletter_record(0, 3, NOW - 60 * S, headers, None, b"x" * 27)], NOW)[0]
    assert row.cells == (f"{clock(NOW - 60 * S, NOW)} (60 s ago)", "invalid JSON", f"{RAW}[1]@17", "27 B")
    assert row.data["key"] == "0:3"


def test_worst():
    assert worst([OK, BAD, WARNING]) == BAD and worst([]) == OK


# -- the whole page ------------------------------------------------------------------------------------------------


def view(**overrides) -> HealthView:
    group = GroupInfo("Stable", (member(partitions=[(RAW, 0)]),))
    fields = dict(
        now_ms=NOW,
        group_id="lytte",
        raw_topic=RAW,
        deadletter_topic="lytte.deadletter",
        redis=Probe(True, 0.4, NOW),
        kafka=Probe(True, 3.2, NOW),
        redis_figures=RedisFigures(
            NOW,
            {0: PartitionCounters(last_offset=9, posts_in=10, deadlettered=2, handled_ms=NOW - S)},
            NOW - S,
            True,
            [],
            [],
            None,
        ),
        kafka_figures=figures(
            group,
            {(RAW, 0): 10},
            {(RAW, 0): 10},
            deadletters=[deadletter_record(0, 1, NOW - 5 * S, [("lytte.reason", b"invalid JSON")], None, b"{")],
        ),
        pipeline=PipelineReading(
            pipeline_status({0: 10}, {0: PartitionCounters(last_offset=9, posts_in=10, handled_ms=NOW - S)}, NOW),
            {},
            NOW,
        ),
        throughput=Throughput(4.5, {0: 4.5}, 60),
    )
    return HealthView(**(fields | overrides))


def test_summary_of_a_healthy_pipeline():
    s = summarise(view())
    assert s.problems == []
    values = {f.name: (f.value, f.state) for f in s.figures}
    assert values["kafka"] == ("3 ms", OK) and values["redis"] == ("0 ms", OK)
    assert [f.label for f in s.figures[:2]] == ["Kafka reachable", "Redis reachable"]
    assert values["workers"] == ("1", OK) and values["lag"] == ("0", OK)
    assert values["throughput"] == ("4.5", OK)
    assert values["deadletters"] == ("2", WARNING)  # the newest is 5 s old
    assert s.sources.rows == [] and s.sources.note == "no source reports yet"
    assert s.services.note.startswith("not run by `lytte up`")


def test_kafka_unreachable_says_since_when_and_keeps_the_last_figures_as_old():
    since = NOW - 90 * S
    s = summarise(view(kafka=Probe(False, 3.2, NOW - 95 * S, since, "KafkaConnectionError: no broker")))
    assert s.problems[0] == (BAD, f"Kafka unreachable since {clock(since, NOW)} (90 s ago)")
    kafka = next(f for f in s.figures if f.name == "kafka")
    assert (kafka.value, kafka.label, kafka.state) == ("DOWN", "Kafka unreachable", BAD) and "90 s ago" in kafka.note
    assert s.lag.old and s.lag.rows and s.lag.note.startswith("Kafka unreachable: last known figures, from ")
    assert s.deadletters.old and s.deadletters.rows


def test_a_stalled_pipeline_is_the_first_thing_said():
    reading = stalled_reading()
    s = summarise(view(pipeline=reading))
    assert s.problems[0] == (BAD, "pipeline: STALLED (partition 1: records waiting, nothing handled for 40 s)")
    workers = next(f for f in s.figures if f.name == "workers")
    assert (workers.value, workers.state) == ("STALLED", BAD)


def test_sources_and_disabled_webhooks_are_problems():
    redis_figures = view().redis_figures
    redis_figures = RedisFigures(
        NOW,
        redis_figures.counters,
        NOW,
        True,
        [],
        [{"receiver": "oncall", "disabled": True, "disabled_reason": "HTTP 410 Gone"}],
        {"x": {"state": "failed"}},
    )
    s = summarise(view(redis_figures=redis_figures))
    assert (BAD, "webhook oncall: DISABLED: HTTP 410 Gone") in s.problems
    assert (BAD, "source x: failed") in s.problems
