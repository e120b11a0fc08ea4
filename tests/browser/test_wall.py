"""The wall page in real headless Chromium, fed by a real worker through Kafka and Redis."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from dashboards import ids
from schemas.settings import Settings
from streams.local.processes import free_port, port_open
from tests.fixtures.browser import console_errors, screenshot
from tests.fixtures.workers import wait_until
from tests.integration.test_pipeline import produce, synth_posts

pytestmark = [pytest.mark.browser, pytest.mark.integration]


# Read in one script call: the wall redraws while we look, so a found element can be gone a moment later.
def tile_posts(driver, brand: str) -> int | None:
    posts = driver.execute_script(
        "const e = document.querySelector(`[data-tile='${arguments[0]}'] [data-posts]`); return e && e.dataset.posts;",
        brand,
    )
    return int(posts) if posts is not None else None


def tile_text(driver, brand: str) -> str:
    return driver.execute_script(
        "const e = document.querySelector(`[data-tile='${arguments[0]}']`); return e ? e.innerText : '';", brand
    )


def test_wall_tiles_change_live_after_new_posts(services_settings: Settings, spawn, chrome, watch_config, post_factory):
    # no slow refresh within the test: every change on the screen comes through the push path
    settings = services_settings.model_copy(update={"dashboard_port": free_port(), "dashboard_slow_refresh_s": 600})
    worker = spawn(settings, "worker")
    dashboard = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: port_open("127.0.0.1", settings.dashboard_port), 30, "the dashboard", dashboard)

    produce(settings, synth_posts(watch_config, 100, minutes=1, seed=1))
    chrome.get(f"http://127.0.0.1:{settings.dashboard_port}/")
    wait_until(lambda: (tile_posts(chrome, "nordair") or 0) > 0, 60, "the first posts on the nordair tile", worker)
    before = tile_posts(chrome, "nordair")
    assert "posts in" in chrome.execute_script(f"return document.getElementById('{ids.WALL_COUNTERS}').innerText")

    hostile = post_factory(
        '<img src=x onerror="document.title=1"> <b>bold</b> @nordair', url="https://example.com/x", followers=10**9
    )
    produce(settings, [*synth_posts(watch_config, 200, minutes=1, seed=2), hostile])
    wait_until(lambda: tile_posts(chrome, "nordair") > before, 30, "the tile to change through the push", worker)

    # Post text is text: the page must not have turned any of it into elements.
    wait_until(
        lambda: "<b>bold</b>" in tile_text(chrome, "nordair"),
        10,
        "the hostile post shown as text",
    )
    assert chrome.find_elements(By.CSS_SELECTOR, ".post-text *") == []
    assert chrome.title != "1"
    assert console_errors(chrome) == []


def test_a_surge_sent_through_kafka_shows_as_alerts_on_the_wall(services_settings: Settings, spawn, chrome):
    from tests.integration.test_alerts import run_synth

    settings = services_settings.model_copy(update={"dashboard_port": free_port()})
    worker = spawn(settings, "worker")
    dashboard = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: port_open("127.0.0.1", settings.dashboard_port), 30, "the dashboard", dashboard)
    # four calm hours (the rules' warm-up is three), then a five-minute negative surge about nordair that
    # ended a minute ago: its alerts fire and are still firing (ten calm minutes resolve them)
    run_synth(spawn, settings, "--history", "240", "--incident-at", "-6", "--incident-minutes", "5")
    chrome.get(f"http://127.0.0.1:{settings.dashboard_port}/?kiosk=1&brands=nordair,skyline")

    def alerts_shown() -> bool:
        text = tile_text(chrome, "nordair")
        return "NEGATIVE SURGE" in text and "VOLUME SPIKE" in text and "INCIDENT" in text

    wait_until(alerts_shown, 120, "the surge's alerts and incident on the nordair tile", worker)
    chrome.set_window_size(1920, 1080)
    screenshot(chrome, "wall-surge-1920x1080")
    classes = chrome.execute_script("return document.querySelector(`[data-tile='nordair']`).className")
    assert "tile--firing" in classes and "tile--critical" in classes
    assert "tile--firing" not in chrome.execute_script(
        "return document.querySelector(`[data-tile='skyline']`).className"
    )
    assert console_errors(chrome) == []
