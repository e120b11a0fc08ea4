"""The wall measured in a real browser (issue 9): `python -m streams.bench.wall [--minutes N] [--screens K]
[--json OUT]`.

Starts a throw-away Kafka broker and redis-server (`streams.bench.services.local_services`: the dashboard reads
the end offsets of posts.raw, and against a closed port each attempt holds a wall callback for up to 1.5 s every
few seconds, which would be measured as latency), `lytte dashboard` and headless Chromium with a 1920x1080 page
on `/?kiosk=1`. The watch configuration has 6 tiles (4 brands, 2 competitors); the view holds a day of history,
one partial bucket per minute and raw partition (`partitions`, 4 by default), as the workers leave it. The bench
writes the view itself with `RedisSink.write_batch`, as a worker does: no worker, no posts in Kafka.

1. Latency, Redis change -> DOM change: `--writes` writes (200), each changing one brand's bucket count, spaced
   0.7-1.5 s at random, each stamped (epoch ms) just before the write; in the page a MutationObserver stamps
   (`Date.now()`, the same clock) each change of that brand's `data-posts`. p50/p95/p99/max, and whether the
   page redrew on the pushed notices at all (its server callbacks against its slow tick).
2. Memory: `--minutes` (10) of traffic at a 60x speed-up: once a second every partial of every brand's current
   minute grows and gets new top posts and terms (one batch), what a minute of posts brings a tile. After a
   warm-up of one sampling interval, every 30 s, at rest (the traffic paused REST_S so that no redraw is in
   flight), read through a DevTools session of the bench's own (`streams.bench.devtools`: what chromedriver's
   `execute_script` returns stays bound in the page, and a bench reading through it measured its own
   readings): the smallest of three readings, each after a forced GC (CDP `HeapProfiler.collectGarbage`), of
   `performance.memory.usedJSHeapSize` (exact with `--enable-precise-memory-info`), the document's elements and
   the renderer's live DOM nodes and event listeners (CDP `Memory.getDOMCounters`), the length of Dash's
   undo/redo record (`store.getState().history.past`); and the PSS of the screen's Chromium processes. First,
   last and Sen's slope per minute; flat unless the series rises for sure (Mann-Kendall z above 3) and the
   slope would add more than 10 % of the first value in a day at the bench's pace. The heap also counts V8's
   compiled code, which grows as V8 optimises more functions and is bounded by the code there is: heap
   snapshots after SNAPSHOT_AFTER_MIN (10) minutes, halfway through the rest and at the last sample
   (`streams.bench.heap_snapshot`) split it, and what is not code is flat unless it would add more than 10 % of
   itself in a day at this pace (first -> last). Beside it, what the last snapshot still holds of the objects
   born between the first two: a page that keeps something of every redraw holds some of each window's.
3. Server CPU per screen, same traffic: CPU seconds per minute of the dashboard's processes (gunicorn's arbiter
   and worker, from /proc) over `--cpu-seconds` with 1 screen, then with `--screens` screens; per screen =
   (K screens - 1 screen) / (K - 1). With it the screens' server callbacks per minute and the CPU each took: on
   a busy machine a saturated server makes fewer callbacks per screen, and the difference understates a screen.

Prints a summary, writes everything as JSON with `--json`; exits 1 when a write never reached the page, 2 when
the bench could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas.records import BucketMetrics, TermCount, TopPost
from schemas.settings import Settings
from schemas.watch import WatchConfig, Watched
from streams.agents.redis_sink import RedisSink
from streams.bench import heap_snapshot
from streams.bench.devtools import PageSession
from streams.bench.latency import percentile
from streams.bench.services import cpu_seconds, local_services
from streams.local.processes import ServiceError, child_env, free_port, spawn_lytte, stop, wait_for
from streams.topics_admin import create_topics

BRANDS = (("nordair", "Nordair"), ("fjordbank", "Fjordbank"), ("polarmart", "Polarmart"), ("tindra", "Tindra"))
COMPETITORS = (("skyline", "Skyline"), ("vestbank", "Vestbank"))
#: the brand whose count the latency writes change
MEASURED = BRANDS[0][0]
SAMPLE_EVERY_S = 30.0
#: the traffic pauses this long before each memory sample (its redraws finish)
REST_S = 4.0
#: minutes of history written per brand (the buckets hash keeps the newest `redis_buckets_kept` of them)
DAY_MINUTES = 24 * 60
#: The measured brand has no buckets this many minutes ago at the fill (oldest first, end excluded), so that no
#: bucket of it leaves the wall's 60-minute window for 25 minutes: its count then moves only with our writes.
MEASURED_GAP_AGO = (70, 35)
WIDTH, HEIGHT = 1920, 1080
#: beside the common flags (streams.bench.chromium): exact heap figures and no throttling of a hidden window
MEASURING_FLAGS = (
    "--enable-precise-memory-info",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)
# fmt: off
WORDS = (
    "delay", "gate", "crew", "refund", "luggage", "lounge", "app", "login", "fee", "branch", "card", "rate",
    "queue", "price", "service", "staff", "seat", "meal", "wifi", "upgrade", "checkout", "delivery", "return",
    "weekend", "storm", "strike",
)
# fmt: on

# -- pure pieces ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    #: epoch ms just before the Redis write
    at_ms: float
    #: the tile's `data-posts` once the write is drawn
    shows: int


def reveal_latencies(writes: Sequence[Write], seen: Sequence[tuple[int, float]]) -> list[float | None]:
    """Milliseconds from each write to the first change of the page, at or after it, that shows its value or
    a larger one; None when none did. The measured count only grows, so a larger value means the write was
    drawn over by a later one before it was shown on its own: it reached the page then.

    Scenario: writes at 1000 ms (shows 10) and 2000 ms (shows 12); the page saw (10, 1180) and (12, 2950) ->
    [180, 950]; it saw only (12, 2300) -> [1300, 300]; it saw (10, 1180) only -> [180, None].
    """
    ordered = sorted(seen, key=lambda s: s[1])
    out: list[float | None] = []
    for w in writes:
        at = next((t for value, t in ordered if value >= w.shows and t >= w.at_ms), None)
        out.append(None if at is None else at - w.at_ms)
    return out


def latency_summary(latencies: Sequence[float | None]) -> dict:
    """Nearest-rank percentiles of the latencies that arrived, and how many did not.

    Scenario: [100, 200, 300, None] -> n 4, shown 3, missing 1, p50 200, p95 300, p99 300, max 300.
    """
    shown = [x for x in latencies if x is not None]
    return {
        "n": len(latencies),
        "shown": len(shown),
        "missing": len(latencies) - len(shown),
        **{f"p{q}": percentile(shown, q) for q in (50, 95, 99)},
        "max": max(shown, default=math.nan),
    }


@dataclass(frozen=True)
class Trend:
    first: float
    last: float
    #: Sen's slope (the median of the slopes between every two samples), units per minute
    slope_per_min: float
    #: Mann-Kendall statistic, as a normal deviate: above 3, the series rises for sure (p < 0.0014)
    z: float
    #: what the slope adds up to in a day at the bench's pace
    per_day: float
    flat: bool


def trend(samples: Sequence[tuple[float, float]], tolerance: float = 0.10, floor: float = 0.0) -> Trend:
    """The trend of (seconds, value) samples, robust to the odd sample caught mid-redraw: Sen's slope per minute,
    and flat unless the series rises for sure (Mann-Kendall z above 3) and by much (the slope adds up, over a
    day at this pace, to more than `tolerance` of the first value or `floor`, whichever is larger). Ties are
    not corrected for (which only makes a rise harder to be sure of). Fewer than three sample times: slope
    nan, not flat (nothing to judge); fewer than seven cannot reach z 3 (a run needs 3 min of samples).

    Scenario, a sample every 30 s: 100, 101, 99, 100 -> slope -0.5/min, z 0: flat; 100, 100.5, ..., 104 (nine
    samples, +1/min) -> 1440 a day, z 3.6: growing; 1000, 1000.025, ..., 1000.2 (+0.05/min, z 3.6, but 72 a
    day, under 10 % of 1000): flat; 100, 103, 97, 104, 96, 106 -> z 0.4: flat; 100, 101, ..., 108 with the
    fifth sample caught at 150 -> slope still +2/min.
    """
    ordered = sorted(samples)
    if len({t for t, _ in ordered}) < 3:
        first = ordered[0][1] if ordered else math.nan
        return Trend(first, ordered[-1][1] if ordered else math.nan, math.nan, math.nan, math.nan, False)
    points = [(t / 60, float(v)) for t, v in ordered]
    pairs = list(itertools.combinations(points, 2))
    slope = statistics.median((b[1] - a[1]) / (b[0] - a[0]) for a, b in pairs if b[0] != a[0])
    s = sum((b[1] > a[1]) - (b[1] < a[1]) for a, b in pairs)
    n = len(points)
    z = (s - math.copysign(1, s)) / math.sqrt(n * (n - 1) * (2 * n + 5) / 18) if s else 0.0
    per_day = slope * 24 * 60
    growing = z > 3 and per_day > max(tolerance * abs(points[0][1]), floor)
    return Trend(points[0][1], points[-1][1], slope, z, per_day, not growing)


def push_worked(callbacks: int, writes: int, seconds: float, slow_refresh_s: float) -> bool:
    """Whether the page redrew on the pushed change notices: it made at least half as many server callbacks
    beyond its slow ticks as there were writes (a page on its slow tick alone redraws every `slow_refresh_s`).

    Scenario: 200 writes in 220 s, slow tick 5 s (44 ticks): 240 callbacks -> True; 46 -> False."""
    return callbacks - seconds / slow_refresh_s >= writes / 2


def per_minute(cpu_s: float, seconds: float) -> float:
    """CPU seconds used in `seconds` as CPU seconds per minute: 1.5 s in 30 s -> 3.0."""
    return cpu_s * 60 / seconds


def cpu_per_screen(one: float, many: float, screens: int) -> float:
    """What one more screen costs: (CPU with `screens` screens - CPU with 1) / (screens - 1).
    Scenario: 6.0 s/min with 1 screen, 10.0 with 3 -> 2.0 s/min per screen; fewer than 2 screens -> nan."""
    return (many - one) / (screens - 1) if screens > 1 else math.nan


def saturated(one_rate: float, many_rate: float, keep: float = 0.8) -> bool:
    """Whether the server fell behind with more screens: each screen made fewer than `keep` of the callbacks a
    minute one screen alone made (the traffic is the same, so each should make as many).

    Scenario: 68/min alone, 66/min each with 3 -> False; 68 alone, 25 each -> True."""
    return many_rate < keep * one_rate


def screen_cost(window: dict) -> float:
    """CPU seconds per minute one screen costs at the pace it kept: callbacks a minute x CPU per callback.
    Scenario: 60 callbacks/min at 500 ms each -> 30.0 s/min; no callbacks (nan each) -> nan."""
    return window["callbacks_per_min_per_screen"] * window["cpu_ms_per_callback"] / 1000


def descendants(root: int, children: Callable[[int], list[int]]) -> list[int]:
    """`root` and every process below it, parents first.

    Scenario: children {1: [2, 3], 2: [4]} from 1 -> [1, 2, 3, 4]; from 3 -> [3]."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo.extend(children(pid))
    return out


def history_minutes(fill_minute: int, measured: bool) -> list[int]:
    """The epoch minutes of a brand's history, oldest first: the day before `fill_minute` (not the minute itself),
    less MEASURED_GAP_AGO for the measured brand.

    Scenario: fill at minute 10_000 -> 1440 minutes, 8_560 to 9_999; measured -> 1405, without 9_930 to 9_964.
    """
    oldest, newest_gap = MEASURED_GAP_AGO
    gap = range(fill_minute - oldest, fill_minute - newest_gap) if measured else range(0)
    return [m for m in range(fill_minute - DAY_MINUTES, fill_minute) if m not in gap]


def split(posts: int, parts: int, rng: random.Random) -> list[int]:
    """`posts` shared at random among `parts` raw partitions (posts are keyed by author, so every partition of
    a busy brand's minute gets some): split(10, 4, rng) -> e.g. [3, 2, 4, 1], always adding up to 10."""
    cuts = sorted(rng.randint(0, posts) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, posts], strict=True)]


def bucket(brand: str, minute: int, posts: int, rng: random.Random, partition: int = 0) -> BucketMetrics:
    """A partial bucket of `posts` posts in the epoch minute `minute` from raw partition `partition`, its other
    figures and its top posts and terms made up from `rng`."""
    reposts, negative, positive = posts // 4, posts // 6, posts // 3
    top = tuple(
        TopPost(
            post_id=f"{brand}-{minute}-{rng.randrange(10**9)}",
            author_handle=f"user{rng.randrange(10**6)}",
            reach=rng.randrange(100, 500_000),
            compound=round(rng.uniform(-1, 1), 3),
            text=" ".join(rng.choices(WORDS, k=rng.randint(6, 24))) + f" @{brand}",
            url=f"https://example.com/{brand}/{minute}/{i}",
        )
        for i in range(3)
    )
    terms = sorted({w: rng.randint(1, 9) for w in rng.sample(WORDS, 6)}.items(), key=lambda tc: (-tc[1], tc[0]))
    return BucketMetrics(
        brand=brand,
        bucket_start=datetime.fromtimestamp(minute * 60, UTC),
        raw_partition=partition,
        posts=posts,
        originals=posts - reposts,
        reposts=reposts,
        positive=positive,
        negative=negative,
        neutral=posts - positive - negative,
        compound_sum=(positive - negative) * 0.5,
        reach=posts * 1500,
        unique_authors=max(1, posts * 4 // 5) if posts else 0,
        top_posts=top if posts else (),
        terms=tuple(TermCount(t, c) for t, c in terms) if posts else (),
        hashtags=(TermCount(f"#{brand}", max(1, posts // 10)),) if posts else (),
    )


# -- the view: writes like a worker's ---------------------------------------------------------------------


def watch_config() -> WatchConfig:
    return WatchConfig(
        brands=[Watched(id=i, name=n) for i, n in BRANDS], competitors=[Watched(id=i, name=n) for i, n in COMPETITORS]
    )


class Feed:
    """A `RedisSink` on an event loop of its own thread, so that the latency writes (main thread) and the
    traffic (its thread) share one client; `counts` holds the posts last written per (brand, minute, raw
    partition)."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="wallbench-feed", daemon=True)
        self._thread.start()
        self.sink: RedisSink = self.call(self._sink(settings))
        self.counts: dict[tuple[str, int, int], int] = {}
        self.partitions = settings.partitions
        self._lock = threading.Lock()

    @staticmethod
    async def _sink(settings: Settings) -> RedisSink:
        return RedisSink(settings)

    def call(self, coro, timeout: float = 20.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def write(self, buckets: list[BucketMetrics]) -> None:
        self.call(self.sink.write_batch(buckets, [], {}))
        with self._lock:
            for b in buckets:
                self.counts[(b.brand, int(b.bucket_start.timestamp()) // 60, b.raw_partition or 0)] = b.posts

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.sink.close(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def fill(feed: Feed, fill_minute: int, rng: random.Random) -> None:
    """The watch key and a day of history per brand, 20-90 posts a minute over every raw partition, oldest
    minutes first (the sink trims the buckets hash to the newest minutes as it goes), in batches of an hour."""
    feed.call(feed.sink.write_watch(watch_config()))
    for brand, _ in (*BRANDS, *COMPETITORS):
        minutes = history_minutes(fill_minute, brand == MEASURED)
        for start in range(0, len(minutes), 60):
            feed.write(
                [
                    bucket(brand, m, n, rng, p)
                    for m in minutes[start : start + 60]
                    for p, n in enumerate(split(rng.randint(20, 90), feed.partitions, rng))
                ]
            )


class Traffic(threading.Thread):
    """Once a second, one batch in which every partial (raw partition) of every brand's current minute gets
    1-10 more posts and new top posts and terms: a minute of a busy brand's posts each second. `paused()` holds
    it for a while."""

    def __init__(self, feed: Feed, rng: random.Random, every_s: float = 1.0) -> None:
        super().__init__(name="wallbench-traffic", daemon=True)
        self.feed, self.rng, self.every_s = feed, rng, every_s
        self.writes = 0
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._flowing.clear()
        try:
            yield
        finally:
            self._flowing.set()

    def run(self) -> None:
        next_at = time.monotonic()
        try:
            while not self._done.wait(max(0.0, next_at - time.monotonic())):
                if not self._flowing.is_set():
                    self._flowing.wait(0.2)
                    next_at = time.monotonic()
                    continue
                minute = int(time.time()) // 60
                batch = []
                for brand, _ in (*BRANDS, *COMPETITORS):
                    for p in range(self.feed.partitions):
                        posts = self.feed.counts.get((brand, minute, p), 0) + self.rng.randint(1, 10)
                        batch.append(bucket(brand, minute, posts, self.rng, p))
                self.feed.write(batch)
                self.writes += 1
                next_at = max(next_at + self.every_s, time.monotonic())  # late: no burst to catch up
        except BaseException as exc:  # the main thread looks and stops the bench
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise ServiceError(f"the traffic's Redis writes failed: {self.error!r}")

    def close(self) -> None:
        self._done.set()
        self.join(10)


# -- processes -------------------------------------------------------------------------------------------


def proc_children(pid: int) -> list[int]:
    """Child processes of `pid` (each thread keeps its own list of the children it forked)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                out.extend(int(c) for c in (task / "children").read_text().split())
    return out


def tree_cpu_seconds(root: int) -> float:
    total = 0.0
    for pid in descendants(root, proc_children):
        with contextlib.suppress(OSError):
            total += cpu_seconds(Path(f"/proc/{pid}/stat").read_text())
    return total


def tree_pss_bytes(root: int) -> int:
    """Proportional set size of `root` and its descendants (shared pages split between their users)."""
    total = 0
    for pid in descendants(root, proc_children):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


# -- screens ---------------------------------------------------------------------------------------------

_COUNTS_JS = """
return arguments[0].map(b => {
    const e = document.querySelector(`[data-tile="${b}"] [data-posts]`);
    return e ? Number(e.getAttribute('data-posts')) : null;
});"""

# Stamps every change of one brand's count; installed once per measurement, removed after it.
_OBSERVE_JS = """
const sel = `[data-tile="${arguments[0]}"] [data-posts]`;
const state = {seen: [], last: null};
const read = () => {
    const e = document.querySelector(sel);
    const v = e ? e.getAttribute('data-posts') : null;
    if (v !== null && v !== state.last) { state.last = v; state.seen.push([Number(v), Date.now()]); }
};
window.__wallbench = state;
window.__wallbenchObserver = new MutationObserver(read);
window.__wallbenchObserver.observe(document.body, {subtree: true, childList: true, characterData: true,
                                                   attributes: true, attributeFilter: ['data-posts']});
read();
return state.last === null ? null : Number(state.last);"""

_UNOBSERVE_JS = """
if (window.__wallbenchObserver) window.__wallbenchObserver.disconnect();
const seen = window.__wallbench ? window.__wallbench.seen : [];
delete window.__wallbench; delete window.__wallbenchObserver;
return seen;"""

_CALLBACKS_JS = """
if (!window.__wallbenchCalls) {
    window.__wallbenchCalls = {n: 0, ms: 0};
    new PerformanceObserver(list => {
        for (const e of list.getEntries()) {
            if (!e.name.includes('_dash-update-component')) continue;
            window.__wallbenchCalls.n += 1;
            window.__wallbenchCalls.ms += e.duration;
        }
    }).observe({type: 'resource'});
}"""

_MEMORY_JS = """(() => {
const history = window.store && window.store.getState().history;  // Dash's undo/redo record
return {heap: performance.memory.usedJSHeapSize, heap_total: performance.memory.totalJSHeapSize,
        elements: document.getElementsByTagName('*').length, dash_history: history ? history.past.length : null};
})()"""


class Screens:
    """Headless Chromium windows on the wall, each a browser of its own (a wall screen is a machine of its own)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.drivers: list = []

    def open(self, url: str):
        from streams.bench.chromium import new_chrome

        profile = self.home / f"chromium-{len(self.drivers)}"
        driver = new_chrome(profile, (WIDTH, HEIGHT), MEASURING_FLAGS)
        self.drivers.append(driver)
        driver.set_page_load_timeout(90)
        driver.set_script_timeout(30)
        # headless Chromium draws a window frame too: grow the window until the page itself is WIDTH x HEIGHT
        dx, dy = driver.execute_script("return [outerWidth - innerWidth, outerHeight - innerHeight]")
        driver.set_window_size(WIDTH + dx, HEIGHT + dy)
        driver.get(url)
        return driver

    def close(self) -> None:
        for driver in self.drivers:
            with contextlib.suppress(Exception):
                driver.quit()
        self.drivers.clear()


def tile_counts(driver, brands: Sequence[str]) -> list[int | None]:
    return driver.execute_script(_COUNTS_JS, list(brands))


def wait_wall(driver, brands: Sequence[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the page may still be loading its scripts
            if all(c is not None for c in tile_counts(driver, brands)):
                return
        time.sleep(0.5)
    raise ServiceError(f"the wall did not show the {len(brands)} tiles within {timeout:.0f} s")


def console_errors(driver) -> list[str]:
    with contextlib.suppress(Exception):
        return [e["message"][:300] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    return []


def sample_memory(page: PageSession, browser_pid: int, readings: int = 3) -> dict:
    """The page's heap, elements and the renderer's DOM counters, each the smallest of `readings` readings taken
    0.5 s apart right after a forced garbage collection: what the page holds on to, without the redraw that
    happens to be in flight. Plus the PSS of the screen's Chromium (`browser_pid` and its children)."""
    taken: list[dict] = []
    for i in range(readings):
        if i:
            time.sleep(0.5)
        page.collect_garbage()
        reading = dict(page.evaluate(_MEMORY_JS))
        counters = page.call("Memory.getDOMCounters")
        reading |= {"dom_nodes": counters.get("nodes"), "listeners": counters.get("jsEventListeners")}
        taken.append(reading)
    out = {k: min(r[k] for r in taken if r.get(k) is not None) for k in taken[0] if taken[0][k] is not None}
    out["browser_pss"] = tree_pss_bytes(browser_pid)
    return out


def heap_snapshot_of(page: PageSession, keep_as: Path | None = None) -> dict | None:
    """A heap snapshot of the page, kept as `keep_as` if given; None, said on stderr, when none could be taken
    (the other figures stand)."""
    try:
        snapshot = page.heap_snapshot()
    except Exception as exc:  # a bench of an hour must not end for want of one reading
        print(f"  no heap snapshot: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return None
    if keep_as is not None:
        keep_as.parent.mkdir(parents=True, exist_ok=True)
        keep_as.write_text(json.dumps(snapshot))
    return snapshot


def count_callbacks(driver) -> None:
    """Count the page's server callbacks (Dash's `_dash-update-component` requests) from now on, with their
    round-trip times, in two numbers the page keeps (`callbacks`)."""
    driver.execute_script(_CALLBACKS_JS)


def callbacks(driver) -> tuple[int, float]:
    """(server callbacks so far, their round-trip milliseconds added up)."""
    n, ms = driver.execute_script("return [window.__wallbenchCalls.n, window.__wallbenchCalls.ms]")
    return int(n), float(ms)


# -- the three measurements -------------------------------------------------------------------------------


def measure_latency(driver, feed: Feed, minute: int, writes: int, rng: random.Random, slow_refresh_s: float) -> dict:
    """`writes` writes of MEASURED's partial of raw partition 0 at `minute`, each a few posts more, timed to the
    page's change; and whether the page redrew on the pushed notices or only on its slow tick."""
    calls_before, _ = callbacks(driver)
    started = time.monotonic()
    shown = driver.execute_script(_OBSERVE_JS, MEASURED)
    base = feed.counts[(MEASURED, minute, 0)]
    if shown is None:
        raise ServiceError(f"no {MEASURED} tile on the wall")
    rest = shown - base  # the other buckets of its hour: fixed while we write (MEASURED_GAP_AGO)
    done: list[Write] = []
    count = base
    try:
        for _ in range(writes):
            count += rng.randint(1, 9)
            batch = [bucket(MEASURED, minute, count, rng, 0)]
            at_ms = time.time() * 1000
            feed.write(batch)
            done.append(Write(at_ms, count + rest))
            time.sleep(rng.uniform(0.7, 1.5))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (tile_counts(driver, [MEASURED])[0] or 0) < done[-1].shows:
            time.sleep(0.2)
    finally:
        seen = driver.execute_script(_UNOBSERVE_JS) or []
    latencies = reveal_latencies(done, [(int(v), float(t)) for v, t in seen])
    final = tile_counts(driver, [MEASURED])[0]
    if final is not None and final != done[-1].shows:
        raise ServiceError(
            f"{MEASURED}'s count ended at {final}, not {done[-1].shows}: something else moved it, the figures are void"
        )
    calls = callbacks(driver)[0] - calls_before
    seconds = time.monotonic() - started
    return latency_summary(latencies) | {
        "callbacks": calls,
        "seconds": round(seconds, 1),
        "pushed": push_worked(calls, writes, seconds, slow_refresh_s),
        "samples_ms": [None if x is None else round(x, 1) for x in latencies],
    }


def measure_memory(
    driver, traffic: Traffic, minutes: float, every_s: float = SAMPLE_EVERY_S, keep: Path | None = None
) -> dict:
    """Samples every `every_s` over `minutes`, after a warm-up of one interval of traffic. Each is taken at rest:
    the traffic pauses for REST_S first, so that no redraw is in flight (one holds a few MiB and a few hundred
    nodes for as long as it takes, seconds on a busy machine); what the page keeps is what stays. Every reading
    goes through one DevTools session of the bench's own (`PageSession`): chromedriver's results stay bound in
    the page and would be measured as its growth. Heap snapshots after SNAPSHOT_AFTER_MIN, halfway through what
    is left and at the end."""
    traffic.check()
    time.sleep(every_s)
    batches = traffic.writes
    samples: list[dict] = []
    last = int(minutes * 60 / every_s)
    first = min(last, math.ceil(min(SNAPSHOT_AFTER_MIN, minutes / 3) * 60 / every_s))
    snapshot_at = sorted({first, (first + last) // 2, last})
    snapshots: list[dict] = []  # {"t_s", "breakdown", "highest_id"} at each of snapshot_at
    kept: tuple[dict[str, int], list] | None = None  # what the last holds of what was born between the first two
    with PageSession(driver.capabilities["goog:chromeOptions"]["debuggerAddress"]) as page:
        start = time.monotonic()
        for k in range(last + 1):
            while (wait := start + k * every_s - time.monotonic()) > 0:
                traffic.check()
                time.sleep(min(wait, 1.0))
            taken = time.monotonic() - start
            with traffic.paused():
                time.sleep(REST_S)
                samples.append({"t_s": round(taken, 1)} | sample_memory(page, driver.service.process.pid))
                if k in snapshot_at:
                    keep_as = keep / f"wall-{taken / 60:.0f}min.heapsnapshot" if keep else None
                    if (snapshot := heap_snapshot_of(page, keep_as)) is not None:
                        if k == last and len(snapshots) == 2:
                            low, high = (s["highest_id"] for s in snapshots)
                            kept = heap_snapshot.survivors(snapshot, low, high)
                        snapshots.append(
                            {
                                "t_s": taken,
                                "breakdown": heap_snapshot.breakdown(snapshot),
                                "highest_id": heap_snapshot.highest_id(snapshot),
                            }
                        )
                        del snapshot  # some hundreds of MB parsed
            print(
                f"  memory {taken / 60:4.1f} min: heap {samples[-1]['heap'] / 2**20:.2f} MiB, "
                f"{samples[-1]['elements']} elements, {samples[-1].get('dom_nodes')} DOM nodes",
                flush=True,
            )
    trends = {
        name: asdict(trend([(s["t_s"], s[name]) for s in samples if s.get(name) is not None]))
        for name in ("heap", "elements", "dom_nodes", "listeners", "browser_pss", "dash_history")
    }
    growth = None
    if len(snapshots) >= 2:
        one, end = snapshots[0], snapshots[-1]
        growth = snapshot_growth(one["breakdown"], end["breakdown"], (end["t_s"] - one["t_s"]) / 60)
        if kept is not None:
            born = [round(s["t_s"] / 60, 1) for s in snapshots[:2]]
            growth["survivors"] = {"born_min": born, "held": kept[0], "top": kept[1][:15]}
    return {
        "minutes": minutes,
        "every_s": every_s,
        "rest_s": REST_S,
        "batches": traffic.writes - batches,
        "samples": samples,
        "trends": trends,
        "snapshots": growth,
    }


#: the first heap snapshot is taken this far into the memory run (a third of a shorter run): the first minutes
#: fill what a page fills once (V8's inline caches, Blink's style caches, Plotly's measured text), which is not
#: what a screen keeps adding
SNAPSHOT_AFTER_MIN = 10.0


def snapshot_growth(first: dict[str, int], last: dict[str, int], minutes: float, tolerance: float = 0.10) -> dict:
    """The heap by category at the two snapshots, and whether what is not compiled code is flat: it
    would add no more than `tolerance` of itself in a day at this pace. Two readings, each a snapshot after a
    forced garbage collection at rest, so exact, but two: a step in between counts as a slope.

    Scenario: objects 20 MB -> 20.01 MB and code 2 -> 2.5 MB over 60 min -> not code +10 kB, +240 kB a day
    (1.2 % of 20 MB): flat, whatever the code did; objects 20 -> 20.2 MB -> +4.8 MB a day: not flat."""
    not_code = {k: sum(v for c, v in d.items() if c != "code") for k, d in (("first", first), ("last", last))}
    per_day = (not_code["last"] - not_code["first"]) / minutes * 1440 if minutes > 0 else math.nan
    return {
        "minutes": round(minutes, 1),
        "first": first,
        "last": last,
        "not_code": not_code | {"per_day": per_day, "flat": per_day <= tolerance * not_code["first"]},
    }


def measure_cpu(dashboard_pid: int, screens: Screens, url: str, count: int, seconds: float, traffic) -> dict:
    """CPU of the dashboard per minute with the one screen open, then with `count` screens; and the server
    callbacks the screens made meanwhile, to tell a costlier screen from a server that could not keep up."""
    brands = [b for b, _ in (*BRANDS, *COMPETITORS)]

    def window() -> dict:
        traffic.check()
        calls_before = [callbacks(d) for d in screens.drivers]
        before = tree_cpu_seconds(dashboard_pid)
        time.sleep(seconds)
        cpu = tree_cpu_seconds(dashboard_pid) - before
        calls_after = [callbacks(d) for d in screens.drivers]
        traffic.check()
        n = sum(a[0] - b[0] for a, b in zip(calls_after, calls_before, strict=True))
        ms = sum(a[1] - b[1] for a, b in zip(calls_after, calls_before, strict=True))
        return {
            "cpu_s_per_min": per_minute(cpu, seconds),
            "callbacks_per_min_per_screen": per_minute(n, seconds) / len(screens.drivers),
            "cpu_ms_per_callback": cpu * 1000 / n if n else math.nan,
            "callback_round_trip_ms": ms / n if n else math.nan,
        }

    one = window()
    print(
        f"  CPU with 1 screen: {one['cpu_s_per_min']:.2f} s/min, "
        f"{one['callbacks_per_min_per_screen']:.0f} callbacks/min",
        flush=True,
    )
    for _ in range(count - 1):
        driver = screens.open(url)
        wait_wall(driver, brands)
        count_callbacks(driver)
    time.sleep(10)  # the new screens' first loads are not the steady state
    many = window()
    moving = []
    for driver in screens.drivers:  # every screen follows the traffic (not just connected)
        before = tile_counts(driver, [MEASURED])[0]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and tile_counts(driver, [MEASURED])[0] == before:
            time.sleep(0.2)
        moving.append(tile_counts(driver, [MEASURED])[0] != before)
    return {
        "seconds": seconds,
        "screens": count,
        "one_screen_s_per_min": one["cpu_s_per_min"],
        "k_screens_s_per_min": many["cpu_s_per_min"],
        "per_screen_s_per_min": cpu_per_screen(one["cpu_s_per_min"], many["cpu_s_per_min"], count),
        "saturated": saturated(one["callbacks_per_min_per_screen"], many["callbacks_per_min_per_screen"]),
        "paced_per_screen_s_per_min": screen_cost(one),
        "one_screen": one,
        "k_screens": many,
        "screens_following": sum(moving),
    }


# -- the run ---------------------------------------------------------------------------------------------


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def run(args: argparse.Namespace, home: Path) -> dict:
    rng = random.Random(args.seed)
    result: dict = {
        "command": "python -m streams.bench.wall " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()},
        "setup": {
            "tiles": len(BRANDS) + len(COMPETITORS),
            "screen": f"{WIDTH}x{HEIGHT}",
            "url": "/?kiosk=1",
            "kafka": "local broker (streams.bench.services.local_services)",
        },
    }
    base = Settings(
        kafka_bootstrap=None,
        redis_url=None,
        home=home,
        topic_prefix="wallbench",
        app_id="wallbench",
        redis_prefix="wallbench",
        dashboard_port=free_port(),
    )
    with contextlib.ExitStack() as stack:
        print("starting Kafka and Redis ...", flush=True)
        settings = stack.enter_context(local_services(base, home))
        create_topics(settings)
        result["setup"]["raw_partitions"] = settings.partitions
        feed = Feed(settings)
        stack.callback(feed.close)
        fill_minute = int(time.time()) // 60
        fill(feed, fill_minute, rng)

        log = home / "dashboard.log"
        dashboard = spawn_lytte(["dashboard"], child_env(settings) | {"PYTHONUNBUFFERED": "1"}, log)
        stack.callback(stop, dashboard)
        wait_for(lambda: _healthy(settings.dashboard_port), 120, "the dashboard", dashboard, f" (log: {log})")
        url = f"http://127.0.0.1:{settings.dashboard_port}/?kiosk=1"
        screens = Screens(home)
        stack.callback(screens.close)
        first = screens.open(url)
        brands = [b for b, _ in (*BRANDS, *COMPETITORS)]
        wait_wall(first, brands)
        count_callbacks(first)
        result["setup"]["viewport"] = first.execute_script("return [window.innerWidth, window.innerHeight]")
        time.sleep(3)  # the first redraws settle

        print(f"latency: {args.writes} writes of {MEASURED}'s count ...", flush=True)
        result["latency_ms"] = measure_latency(
            first, feed, fill_minute - 2, args.writes, rng, settings.dashboard_slow_refresh_s
        )

        traffic = Traffic(feed, rng)
        traffic.start()
        stack.callback(traffic.close)
        print(f"memory: {args.minutes:g} min of traffic at 60x, a sample every {SAMPLE_EVERY_S:.0f} s ...", flush=True)
        result["memory"] = measure_memory(first, traffic, args.minutes, keep=args.snapshots)

        print(f"server CPU: {args.cpu_seconds:g} s with 1 screen, then with {args.screens} ...", flush=True)
        result["cpu"] = measure_cpu(dashboard.pid, screens, url, args.screens, args.cpu_seconds, traffic)
        result["traffic_batches"] = traffic.writes
        result["console_errors"] = {f"screen {i + 1}": console_errors(d) for i, d in enumerate(screens.drivers)}
        result["machine"]["load_at_end"] = os.getloadavg()
    return result


def plain(value):
    """`value` with every nan turned into None, for strict JSON: {"p99": nan, "x": [1.0, nan]} ->
    {"p99": None, "x": [1.0, None]}."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def summary(result: dict) -> str:
    lat, mem, cpu = result["latency_ms"], result["memory"], result["cpu"]
    heap, nodes = mem["trends"]["heap"], mem["trends"]["dom_nodes"]
    elements, history = mem["trends"]["elements"], mem["trends"].get("dash_history")
    mib = 2**20
    lines = [
        f"wall, Redis write -> DOM change, {lat['shown']} of {lat['n']} writes shown: p50 {lat['p50']:.0f} ms, "
        f"p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms"
        + (
            ""
            if lat.get("pushed", True)
            else f" -- ONLY THE SLOW TICK REDREW THE WALL ({lat['callbacks']} callbacks in {lat['seconds']:.0f} s): "
            "the pushed change notices did not reach it"
        ),
        f"browser over {mem['minutes']:g} min at 60x ({mem['batches']} batches = {mem['batches'] / 60:.1f} h of "
        f"one update a minute): JS heap {_series(heap, mib, 'MiB')}; DOM nodes {_series(nodes, 1, 'nodes', 0)}; "
        f"document elements {elements['first']:.0f} -> {elements['last']:.0f}"
        + (
            f"; Dash's undo history {history['first']:.0f} -> {history['last']:.0f} entries"
            if history and history["first"] is not None and not math.isnan(history["first"])
            else ""
        ),
        *_snapshot_line(mem.get("snapshots")),
        f"server CPU: {cpu['one_screen_s_per_min']:.2f} s/min with 1 screen, {cpu['k_screens_s_per_min']:.2f} with "
        f"{cpu['screens']}: {cpu['per_screen_s_per_min']:.2f} s/min per screen "
        f"({cpu['per_screen_s_per_min'] / 60 * 100:.1f} % of a core); {cpu['screens_following']} of {cpu['screens']} "
        f"screens following the traffic",
        f"  server callbacks per screen: {_calls(cpu.get('one_screen'))} with 1 screen, "
        f"{_calls(cpu.get('k_screens'))} with {cpu['screens']}",
        f"machine: {result['machine']['cpus']} CPUs, load {result['machine']['load_at_start'][0]:.1f} at start, "
        f"{result['machine']['load_at_end'][0]:.1f} at end; console errors "
        + (", ".join(f"{len(v)} on {k}" for k, v in result["console_errors"].items()) or "none"),
    ]
    if cpu.get("saturated"):
        one = cpu["one_screen"]
        lines.insert(
            4,
            f"  SATURATED with {cpu['screens']} screens (each made fewer callbacks, slower): the difference "
            f"understates a screen; at one screen's pace ({one['callbacks_per_min_per_screen']:.0f} callbacks/min x "
            f"{one['cpu_ms_per_callback']:.0f} ms) a screen costs {cpu['paced_per_screen_s_per_min']:.1f} s/min "
            f"({cpu['paced_per_screen_s_per_min'] / 60 * 100:.0f} % of a core)",
        )
    return "\n".join(lines)


def _snapshot_line(snapshots: dict | None) -> list[str]:
    """The heap snapshots' lines of the summary: what is not compiled code, and the code, first -> last; and
    what the page still held at the end of what it made between the first two."""
    if not snapshots:
        return []
    mib, kib = 2**20, 2**10
    first, last, not_code = snapshots["first"], snapshots["last"], snapshots["not_code"]
    lines = [
        f"  heap snapshots {snapshots['minutes']:g} min apart: not compiled code {not_code['first'] / mib:.2f} -> "
        f"{not_code['last'] / mib:.2f} MiB, {not_code['per_day'] / mib:+.2f} MiB a day at this pace: "
        f"{'flat' if not_code['flat'] else 'GROWING'} (objects {first['objects'] / mib:.2f} -> "
        f"{last['objects'] / mib:.2f}, strings {first['strings'] / mib:.2f} -> {last['strings'] / mib:.2f}, "
        f"native {first['native'] / mib:.2f} -> {last['native'] / mib:.2f}); "
        f"compiled code {first['code'] / mib:.2f} -> {last['code'] / mib:.2f} MiB"
    ]
    if kept := snapshots.get("survivors"):
        held = kept["held"]
        (a, b), top = kept["born_min"], kept["top"][:3]
        lines.append(
            f"  of what the page made between {a:g} and {b:g} min it still held at the end: objects "
            f"{held['objects'] / kib:.1f} KiB, strings {held['strings'] / kib:.1f}, native {held['native'] / kib:.1f}, "
            f"compiled code {held['code'] / kib:.1f} (most: "
            + ", ".join(f"{count} {kind} {name!r} {size / kib:.1f} KiB" for size, count, kind, name in top)
            + ")"
        )
    return lines


def _series(t: dict, unit: float, name: str, digits: int = 2) -> str:
    """One trend for the summary: first -> last, the slope with its standard error, a day at this pace, and
    the verdict."""
    verdict = "flat" if t["flat"] else "GROWING"
    if t["slope_per_min"] is None or math.isnan(t["slope_per_min"]):
        return f"{t['first'] / unit:.{digits}f} -> {t['last'] / unit:.{digits}f} {name} (too few samples to judge)"
    return (
        f"{t['first'] / unit:.{digits}f} -> {t['last'] / unit:.{digits}f} {name}, "
        f"{t['slope_per_min'] / unit:+.{digits + 1}f} {name}/min (trend z {t['z']:.1f}), "
        f"{t['per_day'] / unit:+.{max(0, digits - 1)}f} {name} a day at this pace: {verdict}"
    )


def _calls(window: dict | None) -> str:
    if not window:
        return "?"
    return (
        f"{window['callbacks_per_min_per_screen']:.0f}/min at {window['cpu_ms_per_callback']:.0f} ms CPU each "
        f"({window['callback_round_trip_ms']:.0f} ms round trip)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.bench.wall",
        description="The wall in a real browser: Redis -> DOM latency, browser memory under hours of traffic at "
        "60x, server CPU per screen (issue 9).",
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of traffic for the memory trend")
    parser.add_argument("--screens", type=int, default=3, help="screens open for the CPU figure (at least 2)")
    parser.add_argument("--writes", type=int, default=200, help="timed writes for the latency")
    parser.add_argument("--cpu-seconds", type=float, default=60.0, help="length of each CPU measurement")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--json", type=Path, help="write every figure and sample here")
    parser.add_argument(
        "--snapshots", type=Path, help="keep the two heap snapshots here (.heapsnapshot, for DevTools or a diff)"
    )
    args = parser.parse_args(argv)
    if args.screens < 2 or args.writes < 1 or args.minutes <= 0 or args.cpu_seconds <= 0:
        parser.error("--screens must be at least 2; --writes, --minutes and --cpu-seconds positive")

    with tempfile.TemporaryDirectory(prefix="lytte-wall-bench-") as tmp:
        try:
            result = run(args, Path(tmp))
        except ServiceError as exc:
            print(f"wall bench failed: {exc}", file=sys.stderr)
            log = Path(tmp) / "dashboard.log"
            if log.exists():
                print("dashboard log (last lines):\n" + "\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
            return 2
    print(summary(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(plain(result), indent=2, default=str) + "\n")
    return 0 if result["latency_ms"]["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
