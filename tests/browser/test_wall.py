"""The wall page in real headless Chromium, fed by a real worker through Kafka and Redis."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from dashboards import ids
from schemas.settings import Settings
from streams.local.processes import free_port, port_open
from tests.fixtures.browser import console_errors
from tests.fixtures.workers import wait_until
from tests.integration.test_pipeline import produce, synth_posts

pytestmark = [pytest.mark.browser, pytest.mark.integration]


# Read in one script call: the wall redraws while we look, so a found element can be gone a moment later.
def tile_posts(driver, brand: str) -> int | None:
    posts = driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e && e.dataset.posts;", ids.tile(brand)
    )
    return int(posts) if posts is not None else None


def tile_text(driver, brand: str) -> str:
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';", ids.tile(brand)
    )


def test_wall_tiles_change_live_after_new_posts(services_settings: Settings, spawn, chrome, watch_config, post_factory):
    settings = services_settings.model_copy(update={"dashboard_port": free_port()})
    worker = spawn(settings, "worker")
    dashboard = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: port_open("127.0.0.1", settings.dashboard_port), 30, "the dashboard", dashboard)

    produce(settings, synth_posts(watch_config, 100, minutes=1, seed=1))
    chrome.get(f"http://127.0.0.1:{settings.dashboard_port}/")
    wait_until(lambda: (tile_posts(chrome, "nordair") or 0) > 0, 60, "the first posts on the nordair tile", worker)
    before = tile_posts(chrome, "nordair")
    assert "posts in" in chrome.execute_script(f"return document.getElementById('{ids.WALL_COUNTERS}').innerText")

    # The slow refresh runs every 5 s: a change well inside that comes from the push path.
    time.sleep(1)
    pushed_at = time.monotonic()
    hostile = post_factory('<img src=x onerror="document.title=1"> <b>bold</b> @nordair', url="https://example.com/x")
    produce(settings, [*synth_posts(watch_config, 200, minutes=1, seed=2), hostile])
    wait_until(lambda: tile_posts(chrome, "nordair") > before, 30, "the tile to change", worker)
    assert time.monotonic() - pushed_at < 5, "the wall changed only through the slow refresh, not the push"

    # Post text is text: the page must not have turned any of it into elements.
    wait_until(
        lambda: "<b>bold</b>" in tile_text(chrome, "nordair"),
        10,
        "the hostile post shown as text",
    )
    assert chrome.find_elements(By.CSS_SELECTOR, ".post-text *") == []
    assert chrome.title != "1"
    assert console_errors(chrome) == []
