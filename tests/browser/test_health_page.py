"""The health page in real headless Chromium, fed by a real worker through Kafka and Redis: lag per partition, the
worker alive, Kafka and Redis reachable, and a malformed record that shows up as a deadletter whose value can be
looked at as text."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from dashboards import health_ids
from schemas.settings import Settings
from schemas.topics import Topic
from streams.local.processes import free_port, port_open
from streams.sources.producer import PostProducer
from tests.fixtures.browser import console_errors
from tests.fixtures.workers import wait_until
from tests.integration.test_pipeline import produce, synth_posts

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Invalid UTF-8 at the end, and markup that would run if the value were ever parsed as HTML.
HOSTILE = b"<img src=x onerror=\"document.title='xss'\"><script>document.title='xss'</script>\xff"


# Each read is one script call: the page redraws while we look, so an element found a moment ago can be gone.
def figure(driver, name: str) -> tuple[str | None, str | None]:
    """(value, state) of a big number."""
    got = driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? [e.dataset.value, e.dataset.state] : null;",
        health_ids.figure(name),
    )
    return tuple(got) if got else (None, None)


def reachable(driver, name: str) -> bool:
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]);"
        "return !!e && e.dataset.state === 'ok' && e.dataset.label.endsWith(' reachable');",
        health_ids.figure(name),
    )


def lag_by_partition(driver, topic: str) -> dict[str, int]:
    return driver.execute_script(
        """const out = {};
        document.querySelectorAll(`#${arguments[0]} tr[data-topic='${arguments[1]}']`).forEach(tr => {
            if (tr.dataset.partition !== 'total') out[tr.dataset.partition] = Number(tr.dataset.lag);
        });
        return out;""",
        health_ids.LAG,
        topic,
    )


def text_of(driver, element_id: str) -> str:
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';", element_id
    )


def deadletter_reasons(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(`#${arguments[0]} tr[data-key]`)).map(tr => tr.dataset.reason);",
        health_ids.DEADLETTERS,
    )


def test_health_page_shows_lag_workers_reachability_and_a_deadletter_as_text(
    services_settings: Settings, spawn, chrome, watch_config
):
    settings = services_settings.model_copy(update={"dashboard_port": free_port()})
    worker = spawn(settings, "worker")
    dashboard = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: port_open("127.0.0.1", settings.dashboard_port), 30, "the dashboard", dashboard)
    produce(settings, synth_posts(watch_config, 100, minutes=1, seed=3))

    chrome.get(f"http://127.0.0.1:{settings.dashboard_port}/health")
    raw = Topic.POSTS_RAW.name(settings.topic_prefix)
    wait_until(lambda: reachable(chrome, "kafka"), 30, "Kafka reachable", dashboard)
    wait_until(lambda: reachable(chrome, "redis"), 30, "Redis reachable", dashboard)
    wait_until(lambda: "alive" in text_of(chrome, health_ids.WORKERS), 90, "the worker alive", worker)
    wait_until(
        lambda: lag_by_partition(chrome, raw) == {str(p): 0 for p in range(settings.partitions)},
        90,
        "lag 0 on every posts.raw partition",
        worker,
    )
    assert figure(chrome, "deadletters")[0] == "0"
    assert figure(chrome, "workers") == ("1", "ok")

    with PostProducer(settings) as producer:
        producer.send_raw(b"hostile", HOSTILE)
    wait_until(lambda: figure(chrome, "deadletters")[0] == "1", 60, "the deadletter counted", worker)
    wait_until(
        lambda: any("invalid UTF-8" in r for r in deadletter_reasons(chrome)), 30, "its reason listed", dashboard
    )

    # Click the row; the page redraws every second or so, so find it again if it was replaced under the click.
    def clicked_and_shown() -> bool:
        rows = chrome.find_elements(By.CSS_SELECTOR, f"#{health_ids.DEADLETTERS} tr[data-key]")
        if rows:
            try:
                rows[0].click()
            except Exception:  # replaced by a redraw between finding and clicking
                return False
        return "document.title" in text_of(chrome, health_ids.DEADLETTER_VALUE)

    wait_until(clicked_and_shown, 30, "the record's value shown", dashboard)
    shown = chrome.execute_script(
        "const e = document.querySelector(`#${arguments[0]} pre`); return e ? e.textContent : null;",
        health_ids.DEADLETTER_VALUE,
    )
    assert shown == HOSTILE.decode("utf-8", "replace")
    assert "invalid UTF-8" in text_of(chrome, health_ids.DEADLETTER_VALUE)
    assert chrome.find_elements(By.CSS_SELECTOR, f"#{health_ids.DEADLETTER_VALUE} pre *") == []
    assert chrome.find_elements(By.CSS_SELECTOR, f"#{health_ids.PAGE} img, #{health_ids.PAGE} script") == []
    assert chrome.title != "xss"
    assert console_errors(chrome) == []
