"""The wall bench's heap snapshots, taken from a real headless Chromium over its DevTools port through one
session (`streams.bench.devtools.PageSession`)."""

import pytest

from streams.bench import heap_snapshot
from streams.bench.devtools import DevToolsError, PageSession

pytestmark = pytest.mark.browser

KEEP = "window.kept = (window.kept || []).concat(Array.from({length: 50000}, (_, i) => ({i, twice: 2 * i}))); 0"


def session(chrome) -> PageSession:
    return PageSession(chrome.capabilities["goog:chromeOptions"]["debuggerAddress"], timeout_s=120)


def test_a_page_that_keeps_objects_grows_in_objects_not_in_code(chrome):
    chrome.get("data:text/html,<title>heap</title>")
    with session(chrome) as page:
        before = heap_snapshot.breakdown(page.heap_snapshot())
        assert before["objects"] > 0 and before["code"] > 0
        page.evaluate(KEEP)  # 50,000 small objects kept by the page: some 1.6 MB of objects
        after = heap_snapshot.breakdown(page.heap_snapshot())
    assert after["objects"] - before["objects"] > 1_000_000
    assert abs(after["code"] - before["code"]) < 1_000_000


def test_the_last_snapshot_holds_what_the_page_kept_between_the_first_two_and_nothing_it_dropped(chrome):
    chrome.get("data:text/html,<title>heap</title>")
    with session(chrome) as page:
        first = heap_snapshot.highest_id(page.heap_snapshot())
        page.evaluate(KEEP)
        page.evaluate("window.dropped = Array.from({length: 50000}, (_, i) => ({i})); 0")
        second = heap_snapshot.highest_id(page.heap_snapshot())
        page.evaluate("delete window.dropped; 0")
        page.evaluate(KEEP)  # born after the second snapshot: not part of the window
        held, rows = heap_snapshot.survivors(page.heap_snapshot(), first, second)
    kept_objects = sum(count for _, count, kind, name in rows if (kind, name) == ("object", "Object"))
    assert 50_000 <= kept_objects < 60_000
    assert 1_000_000 < held["objects"] < 3_000_000


def test_readings_through_the_session_come_back_by_value_and_errors_say_what_threw(chrome):
    chrome.get("data:text/html,<title>heap</title>")
    with session(chrome) as page:
        assert page.evaluate("({heap: performance.memory.usedJSHeapSize > 0, title: document.title})") == {
            "heap": True,
            "title": "heap",
        }
        with pytest.raises(DevToolsError, match="nope"):
            page.evaluate("(() => { throw new Error('nope'); })()")
        with pytest.raises(DevToolsError, match=r"Runtime\.noSuchMethod"):
            page.call("Runtime.noSuchMethod")
