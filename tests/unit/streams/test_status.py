"""`lytte status` as an operator reads it: the table, the verdict line, the services, the JSON, and the
one-line answer when Kafka or Redis is not there."""

import doctest
import json
import subprocess
import sys

from schemas import pipeline
from schemas.pipeline import PartitionCounters, pipeline_status
from schemas.settings import Settings
from streams import status as status_module
from streams.local.processes import free_port
from streams.status import (
    _raw_partition,
    ago,
    pipeline_line,
    read_services,
    services_lines,
    stalled_for_s,
    status_json,
    status_table,
    status_text,
)
from tests.fixtures.factories import REPO

S = 1000
NOW = 1_800_000_000_000


def counters(last_offset: int, handled_ago_s: float, **counts: int) -> PartitionCounters:
    return PartitionCounters(
        last_offset=last_offset, posts_in=last_offset + 1, handled_ms=int(NOW - handled_ago_s * S), **counts
    )


def two_partitions_one_stalled(first_waiting_ago_s: float = 45):
    ends = {0: 120, 1: 95}
    handled = {0: counters(119, 3, matched=80, unmatched=40), 1: counters(59, 200, matched=40, unmatched=19)}
    handled[1] = handled[1].model_copy(update={"deadlettered": 1, "duplicates": 2})
    first_waiting = {1: NOW - int(first_waiting_ago_s * S)}
    return pipeline_status(ends, handled, NOW, first_waiting), first_waiting


def test_doctests():
    assert doctest.testmod(status_module).failed == 0
    assert doctest.testmod(pipeline).failed == 0


def test_table_has_a_row_per_partition_and_a_total():
    status, _ = two_partitions_one_stalled()
    header, p0, p1, total = status_table(status, NOW)
    assert header.split() == [
        "partition", "in", "topic", "handled", "matched", "unmatched", "deadlettered", "duplicates", "lag", "last",
        "handled", "stalled",
    ]  # fmt: skip
    assert p0.split() == ["0", "120", "120", "80", "40", "0", "0", "0", "3", "s", "ago"]
    assert p1.split() == ["1", "95", "60", "40", "19", "1", "2", "35", "3", "min", "ago", "STALLED"]
    assert total.split() == ["total", "215", "180", "120", "59", "1", "2", "35", "3", "s", "ago", "STALLED"]
    # Numbers are right-aligned under their headers.
    assert header.index("lag") + len("lag") == p1.index("35") + len("35")


def test_verdict_ok_stalled_and_nothing_yet():
    ok = pipeline_status({0: 10}, {0: counters(9, 100)}, NOW)
    assert pipeline_line(ok, NOW) == "pipeline: ok"

    stalled, first_waiting = two_partitions_one_stalled(first_waiting_ago_s=45)
    assert pipeline_line(stalled, NOW, first_waiting) == (
        "pipeline: STALLED (partition 1: records waiting, nothing handled for 45 s)"
    )
    # Without the waiting record's time, the last handle is the start: 200 s.
    assert pipeline_line(stalled, NOW) == "pipeline: STALLED (partition 1: records waiting, nothing handled for 200 s)"

    two = pipeline_status({1: 5, 3: 5}, {}, NOW, {1: NOW - 40 * S, 3: NOW - 31 * S})
    assert pipeline_line(two, NOW, {1: NOW - 40 * S, 3: NOW - 31 * S}) == (
        "pipeline: STALLED (partitions 1, 3: records waiting, nothing handled for 31 s)"
    )
    never = pipeline_status({0: 5}, {}, NOW)  # no worker ever, the waiting record's time unknown
    assert pipeline_line(never, NOW) == "pipeline: STALLED (partition 0: records waiting, nothing handled yet)"

    fresh = pipeline_status({0: 5, 1: 0}, {}, NOW, {0: NOW - 2 * S})
    assert pipeline_line(fresh, NOW, {0: NOW - 2 * S}) == "pipeline: no worker has handled anything yet"
    assert pipeline_line(pipeline_status({}, {}, NOW), NOW) == "pipeline: no worker has handled anything yet"


def test_stalled_for_is_none_when_not_stalled():
    assert stalled_for_s(pipeline_status({0: 10}, {0: counters(9, 100)}, NOW), {}, NOW) is None


def test_ago():
    assert ago(0, NOW) == "never"
    assert ago(NOW - 12 * S, NOW) == "12 s ago"
    assert ago(NOW + 5 * S, NOW) == "0 s ago"  # a clock ahead of ours
    assert ago(NOW - 300 * S, NOW) == "5 min ago"
    assert ago(NOW - 5 * 3600 * S, NOW) == "5 h ago"
    assert ago(NOW - 3 * 86400 * S, NOW) == "3 d ago"


def test_changelog_key_names_the_raw_partition():
    assert _raw_partition(b'"3"', 0) == 3
    assert _raw_partition(b"3", 0) == 3
    assert _raw_partition(None, 2) == 2
    assert _raw_partition(b"not json", 1) == 1


def test_services_lines():
    services = [
        {"name": "dashboard", "state": "running", "pid": 42, "restarts": 0, "restarts_recent": 0},
        {
            "name": "worker",
            "state": "restarting",
            "pid": None,
            "restarts": 4,
            "restarts_recent": 3,
            "last_exit_code": -9,
            "last_exit_ms": NOW - 5 * S,
        },
    ]
    assert services_lines(services, None, NOW) == [
        "services (lytte up):",
        "  dashboard  running     pid 42",
        "  worker     restarting  restarts 4 (3 in the last 10 min)  last exit code -9 5 s ago",
    ]
    assert services_lines(None, None, NOW) == []
    assert services_lines(None, "redis at 127.0.0.1:1 did not answer within 2 s: services unknown", NOW) == [
        "redis at 127.0.0.1:1 did not answer within 2 s: services unknown"
    ]


def test_text_puts_table_verdict_warnings_and_services_in_that_order():
    status, first_waiting = two_partitions_one_stalled()
    text = status_text(status, NOW, first_waiting, None, "redis down", ["changelog partition 2: unreadable"])
    lines = text.splitlines()
    assert lines[0].startswith("partition") and lines[3].lstrip().startswith("total")
    assert lines[4].startswith("pipeline: STALLED")
    assert lines[5:] == ["warning: changelog partition 2: unreadable", "redis down"]


def test_json_is_the_pipeline_status_plus_services():
    status, _ = two_partitions_one_stalled()
    doc = json.loads(status_json(status, [{"name": "worker", "state": "running"}]))
    assert doc["raw_end"] == 215 and doc["posts_in"] == 180 and doc["lag"] == 35
    assert doc["stalled"] is True and doc["stalled_partitions"] == [1]
    assert doc["partitions"][1]["handled"]["duplicates"] == 2
    assert doc["services"] == [{"name": "worker", "state": "running"}]
    assert "services_error" not in doc
    down = json.loads(status_json(status, None, "redis down"))
    assert down["services"] is None and down["services_error"] == "redis down"


def test_redis_down_is_one_line_not_an_error():
    port = free_port()
    services, error = read_services(Settings(redis_url=f"redis://:secret@127.0.0.1:{port}/0"), timeout_s=1)
    assert services is None
    assert error == f"redis at 127.0.0.1:{port} did not answer within 1 s: services unknown"


def test_kafka_down_is_one_line_and_exit_code_2():
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "LYTTE_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "LYTTE_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "status", "--timeout", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr == f"lytte: Kafka at 127.0.0.1:{port} did not answer within 1 s\n"
    assert result.stdout == ""
