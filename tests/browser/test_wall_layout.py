"""The wall fills 1920x1080 and 3840x2160 screens with 1, 6 and 12 tiles, nothing overlapping or cut, text
readable from 5 m; checked by element geometry in real headless Chromium, with screenshots saved as test
artifacts (`tests.fixtures.browser.ARTIFACTS`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from schemas.records import Author, Post, Source
from schemas.settings import Settings
from schemas.watch import load_watch_config
from streams.local.processes import free_port, port_open
from tests.fixtures.browser import console_errors, screenshot
from tests.fixtures.workers import wait_until
from tests.integration.test_pipeline import produce, synth_posts

pytestmark = [pytest.mark.browser, pytest.mark.integration]

BRANDS = [
    "Nordair",
    "Fjordbank",
    "Polarmat",
    "Vestkyst Energi",
    "Aurora Telecom",
    "Lysbro",
    "Hafjell",
    "Tindra",
    "Kvarn",
]
COMPETITORS = ["Skyline", "Bergbank", "Solhav"]
SCREENS = [(1920, 1080), (3840, 2160)]
#: elements whose text is cut with an ellipsis on purpose (a post, a list of terms): the element itself must
#: still sit inside its tile
MAY_ELLIPSIS = (
    "post",
    "post-text",
    "post-author",
    "tile-extras",
    "extra-value",
    "chart-label",
    "tile-secondary",
    "fig-label",
)


#: hostile post texts, one per brand (with the brand's handle appended), shown as that brand's top post
XSS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    '<a href="javascript:window.__xss=3">click me</a>',
    "[click me](javascript:window.__xss=4) and ![img](data:text/html,<script>window.__xss=4</script>)",
    "&lt;b&gt;entities&lt;/b&gt; &#60;script&#62;window.__xss=5&#60;/script&#62;",
    "\u202eright-to-left override: the rest of the line must not flip\u202c",
    "zero\u200bwidth\u200djoiners\u2060and\ufeffmarks",
    "\U0001f525\U0001f525 \U0001f469\u200d\U0001f469\u200d\U0001f467 \U0001f1f3\U0001f1f4 emoji",
    "x" * 3000,
    "<svg onload=window.__xss=10>",
    '" onmouseover="window.__xss=11" x="',
    '<iframe src="javascript:window.__xss=12"></iframe> <style>*{display:none}</style>',
]


def hostile_posts(watch) -> list[Post]:
    targets = [*watch.brands, *watch.competitors]
    return [
        Post(
            source=Source.SYNTH,
            source_id=f"xss-{i}",
            created_at=datetime.now(UTC),
            text=f"{text} @{w.handles[0]}",
            author=Author(id=f"x{i}", handle=f"mallory{i}", followers=10**9 - i),
            url=f"https://example.com/{i}",
        )
        for i, (text, w) in enumerate(zip(XSS, targets, strict=True))
    ]


def twelve_brands(tmp_path: Path) -> Path:
    def entry(name: str) -> dict:
        slug = name.lower().replace(" ", "")
        return {"id": slug, "name": name, "handles": [f"@{slug}"], "hashtags": [f"#{slug}"]}

    config = {
        "brands": [entry(n) for n in BRANDS],
        "competitors": [entry(n) for n in COMPETITORS],
        "key_people": [{"handle": "@ingrid_news", "label": "journalist", "name": "Ingrid Dahl"}],
    }
    path = tmp_path / "watch.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


GEOMETRY = """
const H = window.innerHeight, W = window.innerWidth, problems = [];
const tiles = [...document.querySelectorAll('[data-tile]')];
const rects = tiles.map(t => t.getBoundingClientRect());
const inside = (r, o) =>
  r.left >= o.left - 1 && r.right <= o.right + 1 && r.top >= o.top - 1 && r.bottom <= o.bottom + 1;
rects.forEach((r, i) => {
  if (!inside(r, {left: 0, top: 0, right: W, bottom: H}))
    problems.push(`tile ${tiles[i].dataset.tile} leaves the screen`);
  rects.forEach((o, j) => {
    if (j > i && r.left < o.right - 1 && o.left < r.right - 1 && r.top < o.bottom - 1 && o.top < r.bottom - 1)
      problems.push(`tiles ${tiles[i].dataset.tile} and ${tiles[j].dataset.tile} overlap`);
  });
});
let smallest = Infinity, headline = Infinity;
tiles.forEach((tile, i) => {
  tile.querySelectorAll('*').forEach(e => {
    const style = getComputedStyle(e);
    if (style.display === 'none' || style.visibility === 'hidden') return;
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) return;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    if (!inside(r, rects[i])) problems.push(`${e.className || e.tagName} sticks out of tile ${tile.dataset.tile}`);
    const allowed = [...e.classList, ...(e.parentElement ? e.parentElement.classList : [])]
      .some(c => arguments[0].includes(c));
    if (!allowed && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 2) && e.clientWidth > 0)
      problems.push(`${e.className || e.tagName} of tile ${tile.dataset.tile} is cut: "${e.textContent.slice(0, 40)}"`);
    smallest = Math.min(smallest, parseFloat(style.fontSize));
  });
  tile.querySelectorAll('.fig-value').forEach(e => {
    headline = Math.min(headline, parseFloat(getComputedStyle(e).fontSize));
  });
});
const area = rects.reduce((a, r) => a + r.width * r.height, 0) / (W * H);
const scrolls = document.documentElement.scrollHeight > H + 1;
return {problems, smallest: smallest / H, headline: headline / H, area, scrolls, tiles: tiles.length};
"""


def viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def test_the_wall_fills_the_screen_with_1_6_and_12_tiles(services_settings: Settings, spawn, chrome, tmp_path):
    watch_path = twelve_brands(tmp_path)
    settings = services_settings.model_copy(update={"dashboard_port": free_port(), "watch_config": watch_path})
    worker = spawn(settings, "worker")
    dashboard = spawn(settings, "dashboard", name="dashboard")
    wait_until(lambda: port_open("127.0.0.1", settings.dashboard_port), 30, "the dashboard", dashboard)
    watch = load_watch_config(watch_path)
    journalist = Author(id="ingrid", handle="ingrid_news", followers=250_000)
    produce(
        settings,
        [
            *synth_posts(watch, 2400, minutes=60, seed=3),
            *hostile_posts(watch),
            Post(
                source=Source.SYNTH,
                source_id="kp-1",
                created_at=datetime.now(UTC),
                text="@nordair cancelled my flight again, third time this month. Terrible.",
                author=journalist,
            ),
        ],
    )
    ids = [b.id for b in watch.brands] + [c.id for c in watch.competitors]
    base = f"http://127.0.0.1:{settings.dashboard_port}/?kiosk=1"
    chrome.get(base)
    wait_until(
        lambda: chrome.execute_script("return document.querySelectorAll('[data-tile]').length") == 12,
        60,
        "twelve tiles",
        worker,
    )
    wait_until(
        lambda: chrome.execute_script("return document.querySelector('.tile--firing') !== null"),
        60,
        "the key person's alert on the nordair tile",
        worker,
    )
    for n in (1, 6, 12):
        for width, height in SCREENS:
            viewport(chrome, width, height)
            chrome.get(f"{base}&brands={','.join(ids[:n])}")
            wait_until(
                lambda n=n: (
                    chrome.execute_script("return document.querySelectorAll('[data-tile] .chart .main-svg').length")
                    >= n
                ),
                30,
                f"{n} tiles with charts",
            )
            chrome.execute_script("return new Promise(r => setTimeout(r, 500))")
            found = chrome.execute_script(GEOMETRY, list(MAY_ELLIPSIS))
            screenshot(chrome, f"wall-{n}-tiles-{width}x{height}")
            where = f"{n} tiles at {width}x{height}"
            assert found["tiles"] == n, where
            assert found["problems"] == [], f"{where}: {found['problems'][:6]}"
            assert not found["scrolls"], f"{where}: the page scrolls"
            assert found["smallest"] >= 0.015, f"{where}: text at {found['smallest']:.2%} of the screen height"
            assert found["headline"] >= 0.04, f"{where}: headline numbers at {found['headline']:.2%}"
            assert found["area"] >= 0.6, f"{where}: tiles cover only {found['area']:.0%} of the screen"
    # the hostile posts are shown as text: nothing ran, no element was made from them, links are http(s) only
    viewport(chrome, 1920, 1080)
    chrome.get(base)
    wait_until(lambda: "mallory" in chrome.execute_script("return document.body.innerText"), 30, "the hostile posts")
    assert chrome.execute_script("return window.__xss === undefined")
    made = ".post-text *, .tiles script, .tiles iframe, .tiles img, .tiles style"
    assert chrome.execute_script(f"return document.querySelectorAll('{made}').length") == 0
    hrefs = chrome.execute_script("return [...document.querySelectorAll('.tiles a')].map(a => a.href)")
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)
    assert console_errors(chrome) == []
