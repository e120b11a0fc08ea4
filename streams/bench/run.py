"""A whole `lytte bench` run: the services, the chosen modes in turn, the profile, and the last line:

    bench: e2e_posts_per_s=<n> vader_posts_per_s=<n> ratio=<e2e/vader> p50_ms=<n> p99_ms=<n> rss_mb=<n>
    steady_rate=<n> steady_p50_ms=<n> steady_p99_ms=<n> hot_brand_posts_per_s=<n> hot_brand_partition_skew=<x>
    alert_p50_ms=<n> alert_p99_ms=<n> alerts=<received>/<expected>

(one line). e2e, vader, ratio, p50 and p99 come from the mixed mode; the alert figures from the alerts mode
(produce -> signed webhook request arrives, `streams.bench.alerts`); rss_mb is the highest peak RSS (VmHWM)
of any worker in any mode; steady_rate is the rate the steady mode really produced at. A figure whose mode
did not run (or failed) is `nan`.
"""

from __future__ import annotations

import math
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from schemas.settings import Settings
from schemas.watch import load_watch_config
from streams.bench import alerts, modes
from streams.bench.profile import Profiler
from streams.bench.services import local_services
from streams.local.processes import ServiceError
from streams.local.stack import WORKERS

MODES = ("mixed", "hot", "steady", "alerts")
ALIASES = {"hot-brand": "hot"}


def parse_modes(text: str) -> list[str]:
    """Comma-separated names in the order of MODES: "steady,hot-brand" -> ["hot", "steady"]; ValueError if unknown."""
    chosen = {ALIASES.get(name.strip(), name.strip()) for name in text.split(",") if name.strip()}
    unknown = chosen - set(MODES)
    if unknown or not chosen:
        raise ValueError(f"modes are {', '.join(MODES)} (not {', '.join(sorted(unknown)) or 'none'})")
    return [m for m in MODES if m in chosen]


@dataclass(frozen=True)
class Figures:
    e2e_posts_per_s: float = math.nan
    vader_posts_per_s: float = math.nan
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    rss_mb: float = math.nan
    steady_rate: float = math.nan
    steady_p50_ms: float = math.nan
    steady_p99_ms: float = math.nan
    hot_brand_posts_per_s: float = math.nan
    hot_brand_partition_skew: float = math.nan
    alert_p50_ms: float = math.nan
    alert_p99_ms: float = math.nan
    alerts_received: float = math.nan
    alerts_expected: float = math.nan


def final_line(f: Figures) -> str:
    """The last line; figures not measured show as nan.

    >>> final_line(Figures(e2e_posts_per_s=1000, vader_posts_per_s=40000)).split()[1:4]
    ['e2e_posts_per_s=1000', 'vader_posts_per_s=40000', 'ratio=0.025']
    """
    ratio = f.e2e_posts_per_s / f.vader_posts_per_s
    return (
        f"bench: e2e_posts_per_s={f.e2e_posts_per_s:.0f} vader_posts_per_s={f.vader_posts_per_s:.0f} "
        f"ratio={ratio:.3f} p50_ms={f.p50_ms:.0f} p99_ms={f.p99_ms:.0f} rss_mb={f.rss_mb:.0f} "
        f"steady_rate={f.steady_rate:.0f} steady_p50_ms={f.steady_p50_ms:.0f} steady_p99_ms={f.steady_p99_ms:.0f} "
        f"hot_brand_posts_per_s={f.hot_brand_posts_per_s:.0f} hot_brand_partition_skew={f.hot_brand_partition_skew:.2f}"
        f" alert_p50_ms={f.alert_p50_ms:.0f} alert_p99_ms={f.alert_p99_ms:.0f} "
        f"alerts={f.alerts_received:.0f}/{f.alerts_expected:.0f}"
    )


def run_bench(
    settings: Settings,
    n: int = 100_000,
    modes_to_run: list[str] | tuple[str, ...] = MODES,
    workers: int = WORKERS,
    steady_rate: float = 1000.0,
    steady_seconds: float = 60.0,
    profile: Path | None = None,
) -> None:
    watch = load_watch_config(settings.watch_config)
    home = Path(tempfile.mkdtemp(prefix="lytte-bench-"))
    profiler = Profiler(profile) if profile is not None and "mixed" in modes_to_run else None
    if profile is not None and profiler is None:
        print("bench: --profile profiles the mixed mode, which is not in this run", flush=True)
    figures: dict[str, float] = {}
    rss: list[float] = []
    failed: list[str] = []
    print(f"bench: modes {', '.join(modes_to_run)}; {workers} worker(s); logs in {home}", flush=True)
    with local_services(settings, home) as settings:
        bench = modes.Bench(settings, watch, uuid.uuid4().hex[:8], home, workers)
        for mode in modes_to_run:
            try:
                if mode == "mixed":
                    result, vader = modes.mixed(bench, n, profiler)
                    figures |= {"e2e_posts_per_s": result.posts_per_s, "vader_posts_per_s": vader}
                    figures |= {"p50_ms": result.p50_ms, "p99_ms": result.p99_ms}
                elif mode == "hot":
                    result = modes.hot(bench, n)
                    figures |= {"hot_brand_posts_per_s": result.posts_per_s, "hot_brand_partition_skew": result.skew}
                elif mode == "steady":
                    result = modes.steady(bench, steady_rate, steady_seconds)
                    figures |= {"steady_rate": result.produce_rate}
                    figures |= {"steady_p50_ms": result.p50_ms, "steady_p99_ms": result.p99_ms}
                else:
                    result = alerts.alert_latency(bench)
                    figures |= {"alert_p50_ms": result.p50_ms, "alert_p99_ms": result.p99_ms}
                    figures |= {"alerts_received": result.received, "alerts_expected": result.expected}
                rss.append(result.rss_mb)
            except ServiceError as exc:
                print(f"bench: {mode} failed: {exc}", flush=True)
                failed.append(mode)
    if profiler is not None:
        text = profiler.write_breakdown()
        if text is not None:
            print(f"bench: share of worker samples per step during the mixed run ({profile}/breakdown.txt):")
            print(text, flush=True)
    print(final_line(Figures(**figures, rss_mb=max(rss, default=math.nan))), flush=True)
    if failed:
        raise ServiceError(f"bench: modes failed: {', '.join(failed)} (logs in {home})")
