"""The wall bench's heap snapshot, taken from a real headless Chromium over its DevTools port."""

import pytest

from streams.bench import heap_snapshot

pytestmark = pytest.mark.browser


def test_a_page_that_keeps_objects_grows_in_objects_not_in_code(chrome):
    chrome.get("data:text/html,<title>heap</title>")
    address = chrome.capabilities["goog:chromeOptions"]["debuggerAddress"]
    before = heap_snapshot.breakdown(heap_snapshot.take(address))
    assert before["objects"] > 0 and before["code"] > 0
    # 50,000 small objects kept by the page: some 1.6 MB of objects
    chrome.execute_script("window.kept = Array.from({length: 50000}, (_, i) => ({i, twice: 2 * i}));")
    after = heap_snapshot.breakdown(heap_snapshot.take(address))
    assert after["objects"] - before["objects"] > 1_000_000
    assert abs(after["code"] - before["code"]) < 1_000_000
