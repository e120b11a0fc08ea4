"""What a wall tile says, decided from the live view: pure functions, no Redis, no Dash.

A tile is read from 3-5 m away, so it says few things, each labelled, and colour means something:
- **state**: `firing` (an alert of the brand fires: red for critical, amber for warning), `resolved` (nothing
  fires, but something resolved in the last `RESOLVED_SHOWN_S`: shown in grey as resolved, never red),
  `calm`, or `quiet` (the pipeline is live but nothing mentioned the brand in the last hour: "no mentions",
  which is not "no data": the wall's banner says when data stops arriving);
- **volume**: posts in the last 60 min, the rate of the last 5 min, the share of reposts;
- **sentiment**: net sentiment of the hour; the negative share of the last `RECENT_MINUTES` against the
  brand's own baseline (the `BASELINE_MINUTES` before), with a level (`negative_level`);
- the firing alerts and the open incident, the top posts by reach and the terms and hashtags of the last
  `RECENT_MINUTES`, key-person activity of the hour, share of voice against the rivals over the hour;
- the hour as minute bars (written vs reposted, negative drawn over them, marks where alerts fired) and the
  day as half-hour bars.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import orjson

from schemas.alerts import Action, Alert, AlertStatus, Incident
from schemas.records import BucketMetrics, rank_top_posts, top_terms
from schemas.source_health import SourceReport, SourceStatus, screen_state

RECENT_MINUTES = 15
BASELINE_MINUTES = 120
HOUR_MINUTES = 60
DAY_SLOT_MINUTES = 30
DAY_SLOTS = 48
RESOLVED_SHOWN_S = 30 * 60
RATE_MINUTES = 5
#: negative share: judged only with at least this many posts in the recent window
NEGATIVE_MIN_POSTS = 10
TOP_POSTS = 3
TERMS = 6
HASHTAGS = 4
#: languages named on a tile (the rest are in the posts, not in the line)
LANGUAGES_SHOWN = 4

RULE_NAMES = {
    "volume_spike": "volume spike",
    "negative_surge": "negative surge",
    "key_person": "key person",
    "keyword": "keyword",
    "viral": "viral post",
    "share_of_voice": "share of voice",
}


@dataclass(frozen=True)
class AlertLine:
    rule: str
    severity: str
    since: datetime
    summary: str
    acked_by: str | None = None


@dataclass(frozen=True)
class PostLine:
    author: str
    reach: int
    label: str
    text: str
    url: str | None


@dataclass(frozen=True)
class HourSeries:
    minutes: tuple[datetime, ...]
    written: tuple[int, ...]
    reposts: tuple[int, ...]
    negative: tuple[int, ...]
    alert_marks: tuple[datetime, ...]


@dataclass(frozen=True)
class DaySeries:
    slots: tuple[datetime, ...]
    posts: tuple[int, ...]
    negative: tuple[int, ...]


@dataclass(frozen=True)
class Tile:
    id: str
    name: str
    role: str
    state: str  # firing | resolved | calm | quiet
    severity: str | None
    posts_hour: int
    rate_now: float
    repost_share: float
    net_sentiment: float | None
    negative_share: float | None
    negative_baseline: float | None
    negative_level: str  # bad | warn | ok | none
    alerts: tuple[AlertLine, ...]
    incident: str | None
    resolved_note: str | None
    top_posts: tuple[PostLine, ...]
    key_people: tuple[str, ...]
    share_of_voice: float | None
    terms: tuple[str, ...]
    hashtags: tuple[str, ...]
    #: the window's posts by language, most first, as (language, share); unscored posts' share apart
    languages: tuple[tuple[str, float], ...]
    unscored_share: float
    hour: HourSeries
    day: DaySeries

    def digest(self) -> str:
        """Changes exactly when something the tile shows changes: the wall redraws only such tiles."""
        # orjson writes dataclasses, tuples and datetimes itself: a hundred times faster than asdict first
        return hashlib.blake2b(orjson.dumps(self), digest_size=12).hexdigest()


@dataclass(frozen=True)
class BrandData:
    """One brand's slice of the live view (what `dashboards.data.LiveView.wall` reads)."""

    id: str
    name: str
    role: str
    buckets: list[BucketMetrics]  # merged per minute, the newest few hours
    day: dict[int, tuple[int, int]]  # epoch minute -> (posts, negative), merged
    latest: list[dict]
    firing: list[Alert]
    history: list[Alert]  # transitions of the last hour and more, any order
    incident: Incident | None
    acks: dict[str, Action]


def minute_floor(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def negative_level(share: float | None, baseline: float | None, posts: int) -> str:
    """How worrying the recent negative share is, against the brand's own baseline.

    Scenario: 40 posts, 35% negative, usually 12% -> "bad" (at least twice the usual and at least 30%);
    40 posts, 22% against 12% -> "warn" (1.5 times and 20%); 40 posts, 14% against 12% -> "ok"; 6 posts ->
    "none" (too few to judge). Without a baseline, 50% is bad and 30% a warning."""
    if share is None or posts < NEGATIVE_MIN_POSTS:
        return "none"
    if baseline is None:
        return "bad" if share >= 0.5 else "warn" if share >= 0.3 else "ok"
    if share >= max(2 * baseline, 0.3):
        return "bad"
    if share >= max(1.5 * baseline, 0.2):
        return "warn"
    return "ok"


def safe_url(url: str | None) -> str | None:
    """A link only for http(s): "javascript:alert(1)" -> None; "https://x.example/p" stays."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def _within(buckets: list[BucketMetrics], now: datetime, minutes: int, skip: int = 0) -> list[BucketMetrics]:
    """Buckets of the `minutes` whole minutes before the last `skip` ones (the current minute counts)."""
    end = minute_floor(now) - timedelta(minutes=skip)
    start = end - timedelta(minutes=minutes - 1)
    return [b for b in buckets if start <= b.bucket_start <= end]


def _alert_line(alert: Alert, acks: dict[str, Action]) -> AlertLine:
    ack = acks.get(alert.fingerprint)
    return AlertLine(
        rule=RULE_NAMES.get(alert.rule, alert.rule.replace("_", " ")),
        severity=alert.severity.value,
        since=alert.starts_at,
        summary=alert.annotations.get("summary", ""),
        acked_by=ack.by if ack else None,
    )


def _ago(t: datetime, now: datetime) -> str:
    minutes = max(0, int((now - t).total_seconds() // 60))
    return "just now" if minutes == 0 else f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


def hour_series(buckets: list[BucketMetrics], alerts: list[Alert], now: datetime) -> HourSeries:
    """Sixty minute slots ending with the current minute; empty minutes are zeros; marks at the starts of
    alerts that fired within the hour."""
    end = minute_floor(now)
    minutes = tuple(end - timedelta(minutes=HOUR_MINUTES - 1 - i) for i in range(HOUR_MINUTES))
    by_minute = {b.bucket_start: b for b in buckets}
    rows = [by_minute.get(m) for m in minutes]
    marks = sorted({a.starts_at for a in alerts if minutes[0] <= a.starts_at <= now})
    return HourSeries(
        minutes=minutes,
        written=tuple(b.posts - b.reposts if b else 0 for b in rows),
        reposts=tuple(b.reposts if b else 0 for b in rows),
        negative=tuple(b.negative if b else 0 for b in rows),
        alert_marks=tuple(marks),
    )


def day_series(day: dict[int, tuple[int, int]], now: datetime) -> DaySeries:
    """`DAY_SLOTS` half-hour slots ending with the current one."""
    width = DAY_SLOT_MINUTES * 60
    last = int(now.timestamp()) // width
    first = last - DAY_SLOTS + 1
    posts = [0] * DAY_SLOTS
    negative = [0] * DAY_SLOTS
    for minute, (n, neg) in day.items():
        slot = minute * 60 // width - first
        if 0 <= slot < DAY_SLOTS:
            posts[slot] += n
            negative[slot] += neg
    slots = tuple(datetime.fromtimestamp((first + i) * width, UTC) for i in range(DAY_SLOTS))
    return DaySeries(slots, tuple(posts), tuple(negative))


def tile(brand: BrandData, rivals: list[BrandData], now: datetime) -> Tile:
    """Scenario: nordair with 600 posts in the hour (150 reposts), 40 in the last 15 min of which 14 negative
    against a usual 12%, a critical negative_surge firing acked by "ana" and its incident open -> state
    "firing", severity "critical", repost_share 0.25, negative_level "bad", one AlertLine with acked_by
    "ana", incident "INCIDENT open N min · 1 alert firing". The same brand after everything resolved 10 min
    ago -> state "resolved" and resolved_note "negative surge resolved 10 min ago", nothing red."""
    hour = _within(brand.buckets, now, HOUR_MINUTES)
    recent = _within(brand.buckets, now, RECENT_MINUTES)
    before = _within(brand.buckets, now, BASELINE_MINUTES, skip=RECENT_MINUTES)
    posts = sum(b.posts for b in hour)
    reposts = sum(b.reposts for b in hour)
    net = (sum(b.positive for b in hour) - sum(b.negative for b in hour)) / posts if posts else None
    recent_posts = sum(b.posts for b in recent)
    share = sum(b.negative for b in recent) / recent_posts if recent_posts else None
    before_posts = sum(b.posts for b in before)
    baseline = sum(b.negative for b in before) / before_posts if before_posts >= NEGATIVE_MIN_POSTS else None
    rate = sum(b.posts for b in _within(brand.buckets, now, RATE_MINUTES)) / RATE_MINUTES

    firing = sorted(brand.firing, key=lambda a: (a.severity.rank, a.starts_at))
    resolved = [
        a
        for a in brand.history
        if a.status == AlertStatus.RESOLVED
        and a.ends_at is not None
        and (now - a.ends_at).total_seconds() <= RESOLVED_SHOWN_S
    ]
    state = "firing" if firing else "resolved" if resolved else "calm" if posts else "quiet"
    resolved_note = None
    if not firing and resolved:
        last = max(resolved, key=lambda a: a.ends_at)
        resolved_note = f"{RULE_NAMES.get(last.rule, last.rule)} resolved {_ago(last.ends_at, now)}"
    incident = None
    if brand.incident is not None and brand.incident.status != "resolved":
        n = len(brand.incident.firing)
        acked = brand.acks.get(brand.incident.id)
        incident = f"INCIDENT open {_ago(brand.incident.opened_at, now).replace(' ago', '')} · {n} firing" + (
            f" · ack {acked.by}" if acked else ""
        )

    top = rank_top_posts((t for b in recent for t in b.top_posts), TOP_POSTS)
    top_posts = tuple(
        PostLine(
            author=t.author_handle,
            reach=t.reach,
            # the model's label or an operator's correction; records from before labels were kept: VADER's cut
            label=t.label or ("negative" if t.compound <= -0.05 else "positive" if t.compound >= 0.05 else "neutral"),
            text=t.text,
            url=safe_url(t.url),
        )
        for t in top
    )
    since = now - timedelta(minutes=HOUR_MINUTES)
    people: dict[str, datetime] = {}
    for p in brand.latest:
        at = datetime.fromisoformat(p["created_at"])
        for handle in p.get("key_people") or ():
            if at >= since and at > people.get(handle, since):
                people[handle] = at
    key_people = tuple(f"@{h} {_ago(at, now)}" for h, at in sorted(people.items(), key=lambda kv: kv[1])[::-1][:3])

    rival_posts = sum(b.posts for r in rivals for b in _within(r.buckets, now, HOUR_MINUTES))
    sov = posts / (posts + rival_posts) if rivals and posts + rival_posts else None
    return Tile(
        id=brand.id,
        name=brand.name,
        role=brand.role,
        state=state,
        severity=firing[0].severity.value if firing else None,
        posts_hour=posts,
        rate_now=rate,
        repost_share=reposts / posts if posts else 0.0,
        net_sentiment=net,
        negative_share=share,
        negative_baseline=baseline,
        negative_level=negative_level(share, baseline, recent_posts),
        alerts=tuple(_alert_line(a, brand.acks) for a in firing),
        incident=incident,
        resolved_note=resolved_note,
        top_posts=top_posts,
        key_people=key_people,
        share_of_voice=sov,
        terms=tuple(t.term for t in top_terms((b.terms for b in recent), TERMS)),
        hashtags=tuple(t.term for t in top_terms((b.hashtags for b in recent), HASHTAGS)),
        languages=language_mix(recent),
        unscored_share=_share(sum(b.unscored for b in recent), sum(b.posts for b in recent)),
        hour=hour_series(brand.buckets, [*brand.firing, *brand.history], now),
        day=day_series(brand.day, now),
    )


def language_mix(buckets: list[BucketMetrics], shown: int = LANGUAGES_SHOWN) -> tuple[tuple[str, float], ...]:
    """The share of each language among the buckets' posts, most first, the first `shown`.

    Scenario: two buckets, en 8 + da 1 and en 2 + de 1 (12 posts) -> (("en", 0.833), ("da", 0.083), ("de",
    0.083)) (rounded to 3 places; equal shares by name). No posts -> ()."""
    posts = sum(b.posts for b in buckets)
    if not posts:
        return ()
    counts = top_terms((b.languages for b in buckets), shown)
    return tuple((c.term, round(c.count / posts, 3)) for c in counts)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def tiles(brands: list[BrandData], now: datetime) -> list[Tile]:
    """Every brand's tile; a brand's rivals are the competitors, a competitor's are the brands."""
    out = []
    for b in brands:
        rivals = [r for r in brands if (r.role == "competitor") != (b.role == "competitor")]
        out.append(tile(b, rivals, now))
    return out


def grid_shape(n: int) -> tuple[int, int]:
    """Columns and rows that fill a landscape screen with n tiles: 1 -> (1, 1), 3 -> (3, 1), 4 -> (2, 2),
    6 -> (3, 2), 8 -> (4, 2), 9 -> (3, 3), 12 -> (4, 3); beyond 12, four columns and as many rows as needed."""
    shapes = {0: (1, 1), 1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2), 5: (3, 2), 6: (3, 2), 7: (4, 2), 8: (4, 2)}
    if n in shapes:
        return shapes[n]
    if n == 9:
        return (3, 3)
    return (4, -(-n // 4))


def density(n: int) -> str:
    """How much each tile shows: "roomy" for 1-2 tiles, "normal" for 3-6, "dense" beyond."""
    return "roomy" if n <= 2 else "normal" if n <= 6 else "dense"


def groups(ids: list[str], per: int | None) -> list[list[str]]:
    """Kiosk rotation: the brands in groups of `per` in watch order (one group when per is None or 0)."""
    if not per or per <= 0:
        return [ids]
    return [ids[i : i + per] for i in range(0, len(ids), per)] or [[]]


#: a source stopped on purpose (state "stopped") this long ago is no longer shown: it was retired, not lost
RETIRED_AFTER_MS = 3600_000


def source_statuses(reports: list[SourceReport], now_ms: int) -> list[SourceStatus]:
    """Each source's state for the wall's header, by name; sources stopped on purpose over an hour ago left out.

    Scenario: x connected with a post 5 s ago, mastodon connected with keep-alives but no post for 10 min,
    bluesky's report 60 s old -> [bluesky no_data "no data for 60 s (source not reporting)", mastodon
    no_mentions, x live]."""
    shown = [r for r in reports if not (r.state == "stopped" and now_ms - r.reported_ms > RETIRED_AFTER_MS)]
    return [screen_state(r, now_ms) for r in sorted(shown, key=lambda r: r.source)]
