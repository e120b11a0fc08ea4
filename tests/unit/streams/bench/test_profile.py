"""Where a worker's time goes: parsing py-spy's collapsed stacks and giving each sample to one step."""

from __future__ import annotations

import doctest

from streams.bench import profile
from streams.bench.profile import STEPS, attribute, breakdown, parse_line, step_of, table

SITE = "/venv/lib/python3.11/site-packages"
LIB = "/usr/lib/python3.11"
LOOP = [
    f"BaseEventLoop.run_forever ({LIB}/asyncio/base_events.py:607)",
    f"BaseEventLoop._run_once ({LIB}/asyncio/base_events.py:1922)",
    f"Handle._run ({LIB}/asyncio/events.py:80)",
]
AGENT = [*LOOP, f"Agent._execute_actor ({SITE}/faust/agents/agent.py:698)", "score (/repo/streams/agents/app.py:253)"]
SCORE_BATCH = [*AGENT, "plan_score_batch (/repo/streams/core/score_batch.py:81)"]


def frames(*tail: str) -> list[str]:
    return [*SCORE_BATCH, *tail]


def test_examples():
    assert doctest.testmod(profile).failed == 0


def test_the_innermost_claimed_frame_decides():
    assert step_of(frames("parse_post (/repo/streams/core/intake.py:60)")) == "intake/parse"
    # pydantic called by intake is pydantic
    assert (
        step_of(
            frames(
                "parse_post (/repo/streams/core/intake.py:60)",
                f"BaseModel.model_validate_json ({SITE}/pydantic/main.py:847)",
            )
        )
        == "pydantic"
    )
    # the regular expressions of matching and VADER belong to them
    assert (
        step_of(
            frames(
                "Scorer.score (/repo/streams/core/scoring.py:40)",
                "_CompiledWatch.match (/repo/streams/core/matching.py:65)",
                f"Pattern.finditer ({LIB}/re/__init__.py:1)",
            )
        )
        == "matching"
    )
    assert (
        step_of(
            frames(
                "VaderScorer.score (/repo/streams/sentiment/vader.py:53)",
                f"SentimentIntensityAnalyzer.polarity_scores ({SITE}/vaderSentiment/vaderSentiment.py:250)",
            )
        )
        == "VADER"
    )
    # score_batch.py's own time, and that of unclaimed children, is aggregation
    assert step_of(SCORE_BATCH) == "aggregation"
    assert step_of(frames(f"deepcopy ({LIB}/copy.py:1)")) == "aggregation"
    assert step_of([*AGENT, "plan_aggregate_batch (/repo/streams/core/aggregate_batch.py:50)"]) == "aggregation"


def test_sends_tables_redis():
    assert step_of([*LOOP, f"Sender._send_produce_req ({SITE}/aiokafka/producer/sender.py:288)"]) == "sends/producer"
    assert step_of([*AGENT, f"Topic.send ({SITE}/faust/topics.py:180)"]) == "sends/producer"
    assert step_of([*AGENT, "apply_local (/repo/streams/agents/durable_table.py:30)"]) == "durable tables"
    assert step_of([*AGENT, f"Table.on_key_get ({SITE}/faust/tables/table.py:81)"]) == "durable tables"
    assert step_of([*AGENT, "RedisSink.write_view (/repo/streams/agents/redis_sink.py:80)"]) == "Redis"
    assert step_of([*LOOP, f"Redis.execute ({SITE}/redis/asyncio/client.py:600)"]) == "Redis"


def test_shared_layers_count_for_the_step_above_them():
    socket_write = [
        f"AIOKafkaClient.send ({SITE}/aiokafka/client.py:474)",
        f"AIOKafkaConnection.send ({SITE}/aiokafka/conn.py:423)",
        f"_SelectorSocketTransport.write ({LIB}/asyncio/selector_events.py:1057)",
    ]
    produce = [*LOOP, f"SendProduceReqHandler.do ({SITE}/aiokafka/producer/sender.py:782)", *socket_write]
    fetch = [*LOOP, f"Fetcher._proc_fetch_request ({SITE}/aiokafka/consumer/fetcher.py:747)", *socket_write]
    assert attribute(produce) == ("sends/producer", produce[-4])
    assert step_of(fetch) == "consumer fetch"
    # on their own they are their own steps
    assert step_of([*LOOP, *socket_write]) == "kafka client (other)"
    assert step_of(LOOP) == "asyncio loop"
    assert step_of([*LOOP, f"Service._execute_task ({SITE}/mode/services.py:843)"]) == "faust stream/consumer"
    assert step_of([*LOOP, f"Consumer._drain_messages ({SITE}/faust/transport/consumer.py:1220)"]) == (
        "faust stream/consumer"
    )


def test_the_start_up_frames_above_the_event_loop_claim_nothing():
    start = [
        "cmd_worker (/repo/streams/cli.py:100)",
        f"Worker.execute_from_commandline ({SITE}/mode/worker.py:264)",
    ]
    assert attribute([*start, *LOOP[:2]]) == ("asyncio loop", LOOP[1])
    assert step_of([*start, *LOOP, f"Service._execute_task ({SITE}/mode/services.py:843)"]) == "faust stream/consumer"
    # a truncated stack without the event loop is taken as it is
    assert step_of([f"Consumer._to_message ({SITE}/faust/transport/drivers/aiokafka.py:277)"]) == (
        "faust stream/consumer"
    )


def test_idle_and_other():
    assert step_of([*LOOP[:2], f"EpollSelector.select ({LIB}/selectors.py:468)"]) == "idle"
    assert step_of(["<module> (/x/y.py:1)"]) == "other"
    assert step_of([]) == "other"


def test_breakdown_counts_threads_and_shares():
    select = ";".join([*LOOP[:2], f"EpollSelector.select ({LIB}/selectors.py:468)"])
    vader = ";".join(frames("VaderScorer.score (/repo/streams/sentiment/vader.py:53)"))
    lines = [
        f"thread (0x1): MainThread;{select} 30",
        f"thread (0x1): MainThread;{vader} 70",
        f"thread (0x2): Thread-1;{select} 100",
        "",
        "not a stack line",
    ]
    b = breakdown(lines)
    assert b.samples == 200
    assert b.by_thread["MainThread"]["VADER"] == 70
    assert b.threads() == ["MainThread", "Thread-1"]
    text = table(b)
    rows = {line[:24].strip(): line[24:].split() for line in text.splitlines()[2:]}
    assert rows["VADER"] == ["70.0%", "0.0%", "35.0%"]
    assert rows["idle"] == ["30.0%", "100.0%", "65.0%"]
    assert rows["samples"] == ["100", "100", "200"]
    assert list(rows)[:-1] == STEPS


def test_parse_line_without_thread_frames():
    assert parse_line("a (x.py:1);b (y.py:2) 3") == ("all", ["a (x.py:1)", "b (y.py:2)"], 3)
    assert parse_line('process 12:"python";thread (0x5): T;a (x.py:1) 1') == ("T", ["a (x.py:1)"], 1)
