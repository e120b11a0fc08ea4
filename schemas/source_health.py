"""What a source reports about itself, and what a screen makes of it.

Every source (`lytte ingest <source>`) keeps a `SourceReport` and writes it every few seconds to Redis
(`{prefix}:sources`, field = the source's name) and to the `sources` topic (key = the name). A report says
when the provider last showed signs of life (any event, keep-alive or heartbeat) apart from when it last gave
a post we keep, because the wall must tell three things apart (issue 10):

- **live**: posts are arriving;
- **no mentions**: the provider is talking to us (keep-alives, other people's posts) but nothing matched;
- **no data for N s**: nothing at all arrives, or the source itself has stopped reporting: it is down.

A report that has not been rewritten for `REPORT_STALE_MS` means the source process is gone, whatever the
last report said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

SOURCE_REPORT_SCHEMA_VERSION = 1

#: Provider-side states a source reports.
SourceState = Literal["starting", "connecting", "connected", "backoff", "rate_limited", "stopped", "failed"]

#: A post within this long: the source is live.
LIVE_WITHIN_MS = 60_000
#: No sign of life from the provider for this long: no data. X sends a keep-alive every 20 s and Jetstream
#: a stream of events; Mastodon's streaming API sends a comment line every 15 s or so.
SILENT_AFTER_MS = 45_000
#: A report not rewritten for this long: the source process is gone (sources write every 2 s).
REPORT_STALE_MS = 20_000


class SourceReport(BaseModel):
    """Scenario: X connected, last keep-alive 3 s ago, last post 10 s ago, 42 posts in the last minute, one
    reconnect, no gap -> {"state": "connected", "heartbeat_ms": now-3000, "last_event_ms": now-10000,
    "events_per_min": 42, "reconnects": 1, "gaps": 0, ...}."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = SOURCE_REPORT_SCHEMA_VERSION
    source: str
    state: SourceState
    #: when this report was written (epoch ms)
    reported_ms: NonNegativeInt
    #: the last sign of life from the provider (any event or keep-alive), 0 if none yet
    heartbeat_ms: NonNegativeInt = 0
    #: the last post sent to posts.raw, 0 if none yet (`last_event_ms` is what the health page reads)
    last_event_ms: NonNegativeInt = 0
    events_per_min: NonNegativeInt = 0
    #: events the provider sent that matched nothing watched (Jetstream's firehose), per minute
    unmatched_per_min: NonNegativeInt = 0
    reconnects: NonNegativeInt = 0
    #: times the source could not be sure it missed nothing (a resume without a cursor, a backfill cut short)
    gaps: NonNegativeInt = 0
    deadlettered: NonNegativeInt = 0
    #: why it is not connected (an HTTP status, a provider's disconnect message), never a credential
    detail: str = Field(default="", max_length=500)
    #: the provider calls us (webhooks): no keep-alives, so a source listening is alive while it reports
    push: bool = False


ScreenState = Literal["live", "no_mentions", "no_data"]


@dataclass(frozen=True)
class SourceStatus:
    """What a screen shows for one source: the state and the words for it."""

    source: str
    state: ScreenState
    text: str


def screen_state(report: SourceReport, now_ms: int) -> SourceStatus:
    """The wall's reading of a report.

    Scenarios (now = 1,000,000 ms):
    - connected, last post 5 s ago -> live, "live";
    - connected, keep-alive 3 s ago, last post 10 min ago -> no_mentions, "no mentions";
    - connected, keep-alive 90 s ago -> no_data, "no data for 90 s";
    - a webhook source (push) listening, its report fresh, no post for an hour -> no_mentions (nobody wrote);
    - backoff (reconnecting), last sign of life 30 s ago -> no_data, "no data for 30 s (backoff)";
    - any state, report written 60 s ago -> no_data, "no data for 60 s (source not reporting)".
    """
    name = report.source
    if now_ms - report.reported_ms > REPORT_STALE_MS:
        since = max(report.heartbeat_ms, report.last_event_ms) or report.reported_ms
        return SourceStatus(name, "no_data", f"no data for {_seconds(now_ms - since)} (source not reporting)")
    alive = max(report.heartbeat_ms, report.last_event_ms)
    if report.state != "connected":
        since = alive or report.reported_ms
        return SourceStatus(name, "no_data", f"no data for {_seconds(now_ms - since)} ({report.state})")
    if now_ms - report.last_event_ms <= LIVE_WITHIN_MS:
        return SourceStatus(name, "live", "live")
    if report.push or (alive and now_ms - alive <= SILENT_AFTER_MS):
        return SourceStatus(name, "no_mentions", "no mentions")
    return SourceStatus(name, "no_data", f"no data for {_seconds(now_ms - (alive or report.reported_ms))}")


def _seconds(ms: int) -> str:
    """1500 -> "1 s"; 90_000 -> "90 s"; 600_000 -> "10 min"; 7_200_000 -> "2 h"."""
    s = max(0, ms) // 1000
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h"
