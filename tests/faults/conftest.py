"""The fault suite (`make faults`, one case: `make faults CASE=kill9`): the pipeline under crashes, restarts
and hostile input, on real Kafka brokers and redis-servers, judged by exact bucket counts.

Every case records what it saw in a `CaseResult` (the `fault_case` fixture, filled in as the case goes, so
a failing case is recorded too); the session ends with one line summing them up, the last line printed:

    faults: cases=8 runs=37 exact=8 lost_posts=0 double_counted=0 worker_stops=0

`--case NAME[,NAME]` selects cases by their exact name (`-k kill9` also selects `kill9_under_up` and
`broker_kill9`, since `-k` matches substrings).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.results import RESULTS, CaseResult, summary_line

HERE = Path(__file__).resolve().parent


def case_name(item: pytest.Item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--case", default=None, help="fault cases to run, by exact name (comma-separated)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("--case", default=None)
    if not wanted:
        return
    names = {n.strip() for n in wanted.split(",") if n.strip()}
    mine = [i for i in items if HERE in Path(i.path).parents]
    unknown = names - {case_name(i) for i in mine}
    if unknown:
        raise pytest.UsageError(f"no fault case named {sorted(unknown)}; cases: {sorted({case_name(i) for i in mine})}")
    deselected = [i for i in mine if case_name(i) not in names]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if i not in deselected]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    result = item.funcargs.get("fault_case") if hasattr(item, "funcargs") else None
    if result is not None and (report.when == "call" or report.failed):
        result.outcome = report.outcome if report.when == "call" else f"{report.when} error"
    return report


@pytest.fixture
def fault_case(request: pytest.FixtureRequest) -> Iterator[CaseResult]:
    result = CaseResult(case_name(request.node))
    began = time.monotonic()
    yield result
    result.seconds = time.monotonic() - began
    RESULTS.append(result)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    # outermost wrapper: this runs after the terminal reporter's "N passed in ..." line
    result = yield
    if RESULTS:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [r.line() for r in RESULTS] + [summary_line(RESULTS)]
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)
            else:
                print(line, flush=True)
    return result


# -- fixtures the cases share -----------------------------------------------------------------------------


@pytest.fixture
def workers(fault_case, tmp_path):
    from tests.faults.harness import Workers

    pool = Workers(fault_case, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def fault_settings(kafka_broker, redis_server, tmp_path):
    """Settings for one case on the session's broker and redis-server; its topics are dropped afterwards."""
    from tests.faults.harness import drop_topics, make_settings

    settings = make_settings(kafka_broker.bootstrap, redis_server.url, tmp_path / "home")
    yield settings
    drop_topics(settings)


@pytest.fixture
def private_broker(tmp_path):
    """A Kafka broker of the case's own, which the case may stop, kill and start again (same ports, same
    storage: `KafkaBroker.start` formats the storage only when it holds no meta.properties)."""
    from schemas.settings import Settings
    from streams.local.kafka.launcher import KafkaBroker
    from streams.local.processes import free_port

    broker = KafkaBroker(tmp_path / "kafka", free_port(), free_port(), Settings().cache_dir, heap="512m")
    broker.start(timeout=180)
    yield broker
    broker.stop()


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the case's own, which the case may kill and start again on the same port."""
    from streams.local.processes import free_port
    from streams.local.redis import LocalRedis

    server = LocalRedis(tmp_path / "redis", free_port())
    server.start()
    yield server
    server.stop()
