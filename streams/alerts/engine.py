"""The alert engine: signals in, alert transitions and incidents out, all on event time.

One engine sees every brand and every raw partition (`lytte.signals` has one partition). It folds each
`Signal` in log order, so the same log gives the same alerts and incidents, byte for byte, live or in a
backtest over the log (`run_log`).

**Event time.** Each raw partition reports its watermark (the newest post time it has counted). The engine's
time is the slowest of the partitions that have posts waiting (`idle` ones, caught up, do not hold it back;
when all are idle it is the newest of them), so a brand whose posts stop still resolves as long as posts
about anything arrive anywhere, and a replay of history runs on the history's own clock. A minute closes
when that time passes its end by `LATENESS_S`; then every brand's detectors observe it (an empty minute
is a zero), per-post rules age and incidents close.

**Firing within a second.** Volume and negative-surge rules also look at the minutes still open every time
a partial bucket of the brand arrives: the detector observes the open minutes but the last on a scratch
copy of its state and peeks at the last one (`streams.alerts.spike.peek`). Counts only grow, so an alert
fired that way would also have fired when the minute closed; only resolutions wait for closed minutes.

**Exactly once.** Partials are states (a newer one replaces the older), so a signal sent twice changes
nothing; notable posts and shares carry their raw offset, and the engine applies those above its
high-water mark per raw partition only.

Scenario (shipped defaults, `config/watch.yaml`): three hours of nordair at 10 posts a minute, then a
surge of 60 negative posts a minute with @ingrid_news posting -> key_person fires on her first post,
negative_surge and volume_spike fire within the first minutes of the surge (a notification for the volume
spike is inhibited by the surge), one incident `nordair:<epoch>` opens with all three; after the surge,
ten calm closed minutes resolve the detectors, an hour without her resolves key_person, and fifteen
minutes after the last resolution the incident resolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.alert_config import KeyPerson, Keyword, NegativeSurge, ShareOfVoice, Viral, VolumeSpike
from schemas.alerts import AlertEvidence, EvidenceBucket, Severity, fingerprint
from schemas.records import BucketMetrics, TopPost, merge_partials, rank_top_posts
from schemas.signals import NotablePost, Share, Signal
from schemas.watch import WatchConfig
from streams.alerts import incidents, lifecycle, spike
from streams.alerts.lifecycle import Condition

#: how far past a minute's end the engine's time must be before the minute closes (posts of a partition
#: arrive roughly, not exactly, in time order)
LATENESS_S = 60
#: a jump in event time longer than this (a stream restarted after days, a replay of another year) is not
#: filled minute by minute: the detectors see this many empty minutes and then the stream goes on
MAX_GAP_MINUTES = 24 * 60
#: the what-if of `_peek` runs while at most this many minutes of a brand are open
PEEK_MAX_OPEN = 4
#: posts shown as an alert's evidence
EVIDENCE_TOP_POSTS = 5
EVIDENCE_POST_IDS = 50
#: characters of a top post's text the engine keeps for evidence (the wall reads whole posts from the metrics)
EVIDENCE_TEXT_CHARS = 280
#: amplification: a window whose reposts are at least this share of its posts, by at most this many
#: distinct authors per post, reads as amplified by few accounts
AMPLIFIED_REPOST_SHARE = 0.6
AMPLIFIED_AUTHORS_PER_POST = 0.3

Record = Any  # an Alert or an Incident


def _minute(t: datetime) -> int:
    return int(t.timestamp()) // 60


def _at(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


@dataclass
class BrandState:
    """One brand's memory. Bounded: open minutes (a few), closed minutes of the longest window, the
    detectors' own bounded states, per-post rule marks within their quiet periods, active alerts."""

    open: dict[int, dict[int, BucketMetrics]] = field(default_factory=dict)
    closed: dict[int, BucketMetrics] = field(default_factory=dict)
    detectors: dict[str, spike.SpikeState | spike.ShareState] = field(default_factory=dict)
    #: condition key -> epoch seconds of the last post that held it up (key person, keyword, viral)
    last_seen: dict[str, int] = field(default_factory=dict)
    keyword_hits: list[tuple[int, str, int]] = field(default_factory=list)  # (epoch s, post id, raw offset)
    shares: dict[str, dict[int, int]] = field(default_factory=dict)  # referenced id -> minute -> shares
    notable: dict[str, NotablePost] = field(default_factory=dict)  # condition key -> the post that fired it
    alerts: lifecycle.BrandAlerts = field(default_factory=lifecycle.BrandAlerts)
    incident: incidents.BrandIncident = field(default_factory=incidents.BrandIncident)


@dataclass
class AlertEngine:
    """The engine's whole state and its step. `apply` one signal at a time, in log order."""

    watch: WatchConfig
    brands: dict[str, BrandState] = field(default_factory=dict)
    watermarks: dict[int, int] = field(default_factory=dict)
    idle: dict[int, bool] = field(default_factory=dict)
    high_water: dict[int, int] = field(default_factory=dict)
    closed_through: int | None = None  # the last closed minute (epoch minute)
    applied_offset: int = -1  # the last signals offset applied

    def __post_init__(self) -> None:
        self._rules = {w.id: self.watch.alerts.rules.for_brand(w.id) for w, _ in self.watch.watched()}
        self._competitors = [c.id for c in self.watch.competitors]
        for brand in self._rules:
            self.brands.setdefault(brand, BrandState())
        # closed minutes are kept for the evidence of the longest spike window (per-post rules keep marks instead)
        self._history = max(
            [
                spike.intervals(r.window_minutes, 60)
                for rules in self._rules.values()
                for r in rules.values()
                if isinstance(r, VolumeSpike)
            ]
            + [1]
        )

    # ---- time -----------------------------------------------------------------------------------------

    def event_time(self) -> int | None:
        """Epoch seconds: the slowest partition with posts waiting; all idle -> the newest; none heard -> None.

        Scenario: watermarks {0: 100, 1: 160, 2: 130}, partition 0 idle -> 130; all idle -> 160."""
        if not self.watermarks:
            return None
        busy = [w for p, w in self.watermarks.items() if not self.idle.get(p) and w > 0]
        return min(busy) if busy else max(self.watermarks.values())

    def newest_time(self) -> datetime:
        return datetime.fromtimestamp(max(self.watermarks.values(), default=0), UTC)

    # ---- the step -------------------------------------------------------------------------------------

    def apply(self, signal: Signal, offset: int) -> list[Record]:
        """Fold one signal (at `offset` of lytte.signals); return the Alert and Incident records it causes,
        in order. A signal at or below the applied offset changes nothing (read again after a restart)."""
        if offset <= self.applied_offset:
            return []
        self.applied_offset = offset
        out: list[Record] = []
        p = signal.raw_partition
        self.watermarks[p] = max(self.watermarks.get(p, 0), signal.watermark_s)
        self.idle[p] = signal.idle
        touched: set[str] = set()
        for partial in signal.partials:
            brand = self.brands.get(partial.brand)
            if brand is None:
                continue
            minute = _minute(partial.bucket_start)
            if self.closed_through is not None and minute <= self.closed_through:
                self._late(brand, minute, partial)
                continue
            brand.open.setdefault(minute, {})[p] = _lean(partial)
            touched.add(partial.brand)
        fresh = self.high_water.get(p, -1)
        for post in signal.posts:
            if post.raw_offset > fresh and post.brand in self.brands:
                out += self._notable(post)
        for share in signal.shares:
            if share.raw_offset > fresh and share.brand in self.brands:
                out += self._share(share)
        self.high_water[p] = max(fresh, signal.last_offset)
        for name in sorted(touched):
            out += self._peek(name)
        out += self._advance()
        return out

    def _late(self, brand: BrandState, minute: int, partial: BucketMetrics) -> None:
        """A partial of a minute already closed: the wall shows it; the rules have decided that minute."""
        if minute in brand.closed:
            brand.closed[minute] = merge_partials([brand.closed[minute], _lean(partial)])[0]

    # ---- closed minutes -------------------------------------------------------------------------------

    def _advance(self) -> list[Record]:
        now = self.event_time()
        if now is None:
            return []
        target = (now - LATENESS_S) // 60 - 1  # the last minute whose end is LATENESS_S behind
        if self.closed_through is None:
            first = min((m for b in self.brands.values() for m in b.open), default=None)
            if first is None or target < first:
                return []
            self.closed_through = first - 1
        if target <= self.closed_through:
            return []
        start = max(self.closed_through + 1, target - MAX_GAP_MINUTES + 1)
        out: list[Record] = []
        for brand in self.brands.values():  # minutes the jump skips: kept, never observed
            for minute in [m for m in brand.open if m < start]:
                merged = merge_partials(brand.open.pop(minute).values())
                brand.closed[minute] = merged[0]
        for minute in range(start, target + 1):
            for name in sorted(self.brands):
                out += self._close(name, minute)
            for name in sorted(self.brands):
                out += self._share_of_voice(name, minute)
            self.closed_through = minute
            end = _at(minute + 1)
            for name in sorted(self.brands):
                out += self._age(name, end)
        return out

    def _close(self, name: str, minute: int) -> list[Record]:
        brand = self.brands[name]
        partials = brand.open.pop(minute, {})
        merged = merge_partials(partials.values())
        bucket = merged[0] if merged else BucketMetrics(brand=name, bucket_start=_at(minute))
        brand.closed[minute] = bucket
        for old in [m for m in brand.closed if m <= minute - self._history]:
            del brand.closed[old]
        out: list[Record] = []
        for rule, settings in self._rules[name].items():
            if not isinstance(settings, VolumeSpike):
                continue
            value, total = self._values(settings, bucket)
            state, decision = spike.observe(brand.detectors.get(rule), settings, _at(minute), value, total)
            brand.detectors[rule] = state
            out += self._decided(name, rule, settings, decision, minute, _at(minute + 1))
        return out

    def _share_of_voice(self, name: str, minute: int) -> list[Record]:
        """A brand's posts against those about it and its rivals in the closed minute: a brand's rivals are the
        competitors; a competitor's are the brands."""
        settings = self._rules[name].get("share_of_voice")
        if not isinstance(settings, ShareOfVoice):
            return []
        brand = self.brands[name]
        rivals = self._competitors if name not in self._competitors else [w.id for w in self.watch.brands]
        own = brand.closed[minute].posts
        total = own + sum(self.brands[r].closed[minute].posts for r in rivals if r in self.brands)
        state, decision = spike.observe_share(brand.detectors.get("share_of_voice"), settings, _at(minute), own, total)
        brand.detectors["share_of_voice"] = state
        fp = self._fingerprint(name, "share_of_voice", settings.severity, ())
        at = _at(minute + 1)
        if decision.transition == "fire" and fp not in brand.alerts.active:
            evidence = AlertEvidence(
                window_start=_at(minute - settings.window_minutes + 1),
                window_end=at,
                value=decision.value,
                baseline=decision.baseline,
                score=decision.score,
                threshold=settings.threshold,
                amplification="organic",
                detail=f"share of voice {decision.value:.0%}, usually {decision.baseline:.0%}",
            )
            summary = f"{name}: share of voice {decision.value:.0%} against a usual {decision.baseline:.0%}"
            return self._fire(name, Condition("share_of_voice", name, settings.severity, (), evidence, summary), at)
        if decision.transition == "resolve":
            return self._resolve(name, fp, at)
        return []

    def _values(self, settings: VolumeSpike, bucket: BucketMetrics) -> tuple[float, float | None]:
        if isinstance(settings, NegativeSurge):
            return float(bucket.negative), float(bucket.posts)
        return float(bucket.posts), None

    def _peek(self, name: str) -> list[Record]:
        """Fire now if the open minutes already make a detector fire. Live, one or two minutes are open; when
        event time lags far behind a brand's newest posts (a replay of history racing through one partition
        ahead of the others), the closing minutes decide instead, in the same order, without the what-if."""
        brand = self.brands[name]
        if not brand.open or len(brand.open) > PEEK_MAX_OPEN:
            return []
        minutes = sorted(brand.open)
        buckets = {m: merge_partials(brand.open[m].values())[0] for m in minutes}
        out: list[Record] = []
        for rule, settings in self._rules[name].items():
            if not isinstance(settings, VolumeSpike):
                continue
            state = brand.detectors.get(rule)
            if state is not None and state.firing:
                continue
            decision = None
            for m in minutes[:-1]:
                value, total = self._values(settings, buckets[m])
                state, decision = spike.observe(state, settings, _at(m), value, total)
                if decision.transition == "fire":
                    break
            else:
                value, total = self._values(settings, buckets[minutes[-1]])
                decision = spike.peek(state, settings, _at(minutes[-1]), value, total)
            if decision is not None and decision.transition == "fire":
                at = min(self.newest_time(), _at(minutes[-1] + 1))  # no later than the minute that made it fire
                out += self._decided(name, rule, settings, decision, minutes[-1], at, buckets)
        return out

    def _decided(
        self,
        name: str,
        rule: str,
        settings: VolumeSpike,
        decision: spike.Decision,
        minute: int,
        at: datetime,
        open_buckets: dict[int, BucketMetrics] | None = None,
    ) -> list[Record]:
        brand = self.brands[name]
        fp = self._fingerprint(name, rule, settings.severity, ())
        if decision.transition == "fire" and fp not in brand.alerts.active:
            window = spike.intervals(settings.window_minutes, 60)
            buckets = [b for m, b in sorted({**brand.closed, **(open_buckets or {})}.items()) if m > minute - window]
            evidence = self._evidence(decision, buckets, minute - window + 1, at, settings.threshold)
            what = "negative posts" if isinstance(settings, NegativeSurge) else "posts"
            summary = (
                f"{name}: {rule}: {decision.value:.0f} {what} in {settings.window_minutes} min, "
                f"{decision.baseline:.1f} expected ({evidence.amplification})"
            )
            return self._fire(name, Condition(rule, name, settings.severity, (), evidence, summary), at)
        if decision.transition == "resolve":
            return self._resolve(name, fp, at)
        return []

    # ---- per-post rules -------------------------------------------------------------------------------

    def _notable(self, post: NotablePost) -> list[Record]:
        rules = self._rules[post.brand]
        brand = self.brands[post.brand]
        out: list[Record] = []
        at = post.created_at
        t = int(at.timestamp())
        key_person = rules.get("key_person")
        if isinstance(key_person, KeyPerson) and (not key_person.only_negative or post.label == "negative"):
            people = {hit.handle: hit.label for hit in post.key_people}
            if key_person.min_followers is not None and post.followers >= key_person.min_followers:
                people.setdefault(post.author_handle, f"{post.followers:,} followers")
            for handle, label in sorted(people.items()):
                key = f"key_person|{handle}"
                brand.last_seen[key] = max(brand.last_seen.get(key, 0), t)
                extra = (("person", handle),)
                if self._fingerprint(post.brand, "key_person", key_person.severity, extra) in brand.alerts.active:
                    continue
                brand.notable[key] = post
                evidence = self._post_evidence(post, 1, 0, 1, f"@{handle} ({label}) posted about {post.brand}")
                summary = f"{post.brand}: key person @{handle} ({label}): {_one_line(post.text, 120)}"
                out += self._fire(
                    post.brand, Condition("key_person", post.brand, key_person.severity, extra, evidence, summary), at
                )
        keyword = rules.get("keyword")
        if isinstance(keyword, Keyword) and post.keyword:
            quiet = keyword.quiet_minutes * 60
            brand.keyword_hits = [h for h in brand.keyword_hits if h[0] > t - quiet] + [
                (t, post.post_id, post.raw_offset)
            ]
            brand.last_seen["keyword"] = max(brand.last_seen.get("keyword", 0), t)
            fp = self._fingerprint(post.brand, "keyword", keyword.severity, ())
            if len(brand.keyword_hits) >= keyword.min_posts and fp not in brand.alerts.active:
                brand.notable["keyword"] = post
                n = len(brand.keyword_hits)
                evidence = self._post_evidence(
                    post,
                    n,
                    keyword.min_posts,
                    keyword.min_posts,
                    f"{n} posts match {keyword.query!r}",
                    post_ids=tuple(h[1] for h in brand.keyword_hits),
                )
                summary = f"{post.brand}: {n} posts match {keyword.query!r} within {keyword.quiet_minutes} min"
                out += self._fire(
                    post.brand, Condition("keyword", post.brand, keyword.severity, (), evidence, summary), at
                )
        return out

    def _share(self, share: Share) -> list[Record]:
        viral = self._rules[share.brand].get("viral")
        if not isinstance(viral, Viral):
            return []
        brand = self.brands[share.brand]
        minute = _minute(share.created_at)
        counts = brand.shares.setdefault(share.referenced_id, {})
        counts[minute] = counts.get(minute, 0) + 1
        key = f"viral|{share.referenced_id}"
        t = int(share.created_at.timestamp())
        brand.last_seen[key] = max(brand.last_seen.get(key, 0), t)
        recent = sum(n for m, n in counts.items() if m > minute - viral.window_minutes)
        extra = (("post", share.referenced_id),)
        fp = self._fingerprint(share.brand, "viral", viral.severity, extra)
        if recent < viral.min_shares or fp in brand.alerts.active:
            return []
        evidence = AlertEvidence(
            window_start=_at(minute - viral.window_minutes + 1),
            window_end=share.created_at,
            value=recent,
            baseline=viral.min_shares,
            score=recent / viral.min_shares,
            threshold=1.0,
            repost_share=1.0,
            amplification="single",
            post_ids=(share.referenced_id,),
            detail=f"{share.referenced_id} shared {recent} times in {viral.window_minutes} min",
        )
        summary = f"{share.brand}: post {share.referenced_id} shared {recent} times in {viral.window_minutes} min"
        return self._fire(
            share.brand, Condition("viral", share.brand, viral.severity, extra, evidence, summary), share.created_at
        )

    def _age(self, name: str, end: datetime) -> list[Record]:
        """At the end of a closed minute: per-post alerts whose quiet period has passed resolve, old marks go,
        and the brand's incident may close."""
        brand = self.brands[name]
        rules = self._rules[name]
        t = int(end.timestamp())
        out: list[Record] = []
        for key, seen in sorted(brand.last_seen.items()):
            rule, _, value = key.partition("|")
            settings = rules.get(rule)
            quiet = getattr(settings, "quiet_minutes", 0) * 60
            if settings is None or t - seen < quiet:
                continue
            del brand.last_seen[key]
            brand.notable.pop(key, None)
            if rule == "viral":
                brand.shares.pop(value, None)
            extra = ((("person" if rule == "key_person" else "post"), value),) if value else ()
            out += self._resolve(name, self._fingerprint(name, rule, settings.severity, extra), end)
        for ref, counts in list(brand.shares.items()):
            viral = rules.get("viral")
            keep = viral.window_minutes if isinstance(viral, Viral) else 0
            for m in [m for m in counts if m <= _minute(end) - keep]:
                del counts[m]
            if not counts:
                del brand.shares[ref]
        brand.incident, records = incidents.on_time(brand.incident, end, self.watch.alerts.incident_close_minutes)
        return out + list(records)

    # ---- lifecycle ------------------------------------------------------------------------------------

    def _fingerprint(self, brand: str, rule: str, severity: Severity, extra: tuple) -> str:
        return fingerprint(lifecycle.labels_for(rule, brand, severity, extra))

    def _fire(self, name: str, condition: Condition, at: datetime) -> list[Record]:
        brand = self.brands[name]
        brand.alerts, alerts = lifecycle.fire(brand.alerts, condition, at)
        return self._with_incident(name, alerts)

    def _resolve(self, name: str, fp: str, at: datetime) -> list[Record]:
        brand = self.brands[name]
        brand.alerts, alerts = lifecycle.resolve(brand.alerts, fp, at)
        return self._with_incident(name, alerts)

    def _with_incident(self, name: str, alerts: Iterable) -> list[Record]:
        brand = self.brands[name]
        out: list[Record] = []
        for alert in alerts:
            out.append(alert)
            brand.incident, records = incidents.on_alert(brand.incident, alert)
            out += records
        return out

    def resolve_by_hand(self, brand_id: str, fp: str, by: str, reason: str = "") -> list[Record]:
        """An operator's resolve action, applied at the engine's newest event time (so that a replay of the log
        gives the same record): the alert resolves, and stays quiet until its condition has ended once
        (`lifecycle.resolve_by_hand`)."""
        brand = self.brands.get(brand_id)
        if brand is None:
            return []
        brand.alerts, alerts = lifecycle.resolve_by_hand(brand.alerts, fp, self.newest_time(), by, reason)
        return self._with_incident(brand_id, alerts)

    def resolve_incident_by_hand(self, brand_id: str, incident_id: str, by: str, reason: str = "") -> list[Record]:
        """An incident resolved by hand (in lytte, or in PagerDuty): the incident resolves now and each of its
        firing alerts is resolved by hand (`incidents.on_resolve_action` first, so that their resolutions make
        no further incident record). Another incident id, or none open -> nothing."""
        brand = self.brands.get(brand_id)
        if brand is None:
            return []
        at = self.newest_time()
        brand.incident, out = incidents.on_resolve_action(brand.incident, incident_id, at, by)
        if not out:
            return []
        records: list[Record] = list(out)
        for fp in sorted(brand.alerts.active):
            brand.alerts, alerts = lifecycle.resolve_by_hand(brand.alerts, fp, at, by, reason)
            records += alerts
        return records

    # ---- evidence -------------------------------------------------------------------------------------

    def _evidence(
        self, decision: spike.Decision, buckets: list[BucketMetrics], first_minute: int, end: datetime, threshold: float
    ) -> AlertEvidence:
        posts = sum(b.posts for b in buckets)
        reposts = sum(b.reposts for b in buckets)
        authors = sum(b.unique_authors for b in buckets)
        top = rank_top_posts((t for b in buckets for t in b.top_posts), EVIDENCE_TOP_POSTS)
        return AlertEvidence(
            window_start=_at(first_minute),
            window_end=end,
            value=decision.value,
            baseline=decision.baseline,
            score=decision.score,
            threshold=threshold,
            buckets=tuple(
                EvidenceBucket(
                    start=b.bucket_start,
                    posts=b.posts,
                    originals=b.originals,
                    reposts=b.reposts,
                    quotes=b.quotes,
                    replies=b.replies,
                    unique_authors=b.unique_authors,
                    negative=b.negative,
                )
                for b in buckets
            ),
            top_posts=top,
            repost_share=reposts / posts if posts else 0.0,
            unique_authors=authors,
            amplification=amplification(posts, reposts, authors),
            post_ids=tuple(t.post_id for t in top),
            detail=f"share negative {decision.share:.0%}" if decision.share is not None else "",
        )

    def _post_evidence(
        self, post: NotablePost, value: float, baseline: float, threshold: float, detail: str, post_ids=()
    ) -> AlertEvidence:
        return AlertEvidence(
            window_start=post.created_at,
            window_end=post.created_at,
            value=value,
            baseline=baseline,
            score=value,
            threshold=threshold,
            top_posts=(
                TopPost(
                    post_id=post.post_id,
                    author_handle=post.author_handle,
                    reach=post.followers,
                    compound=post.compound,
                    text=post.text,
                    url=post.url,
                ),
            ),
            unique_authors=1,
            amplification="single",
            post_ids=tuple(post_ids[-EVIDENCE_POST_IDS:]) or (post.post_id,),
            detail=detail,
        )

    # ---- persistence ----------------------------------------------------------------------------------

    def state(self) -> dict:
        """The whole state as JSON values, string keys only (the engine's changelog entry); `from_state` reads
        it back."""
        return {
            "watermarks": _str_keys(self.watermarks),
            "idle": _str_keys(self.idle),
            "high_water": _str_keys(self.high_water),
            "closed_through": self.closed_through,
            "applied_offset": self.applied_offset,
            "brands": {name: _dump_brand(b) for name, b in self.brands.items()},
        }

    def snapshot(self) -> bytes:
        return orjson.dumps(self.state())

    @classmethod
    def restore(cls, watch: WatchConfig, data: bytes | None) -> AlertEngine:
        return cls.from_state(watch, orjson.loads(data) if data else None)

    @classmethod
    def from_state(cls, watch: WatchConfig, doc: dict | None) -> AlertEngine:
        engine = cls(watch)
        if not doc:
            return engine
        engine.watermarks = {int(k): v for k, v in doc["watermarks"].items()}
        engine.idle = {int(k): v for k, v in doc["idle"].items()}
        engine.high_water = {int(k): v for k, v in doc["high_water"].items()}
        engine.closed_through = doc["closed_through"]
        engine.applied_offset = doc["applied_offset"]
        for name, b in doc["brands"].items():
            if name in engine.brands:  # a brand removed from the watch file is forgotten
                engine.brands[name] = _load_brand(b)
        return engine


def amplification(posts: int, reposts: int, authors: int) -> str:
    """How a window's posts came about. Scenario: 400 posts, 300 reposts by 40 authors -> "amplified";
    400 posts by 380 authors -> "organic"; 1 post -> "single"."""
    if posts <= 1 or authors <= 1:
        return "single"
    if reposts / posts >= AMPLIFIED_REPOST_SHARE and authors / posts <= AMPLIFIED_AUTHORS_PER_POST:
        return "amplified"
    return "organic"


def _lean(partial: BucketMetrics) -> BucketMetrics:
    """A partial as the engine keeps it: top posts' text cut to what evidence shows (the state stays small)."""
    if all(len(t.text) <= EVIDENCE_TEXT_CHARS for t in partial.top_posts):
        return partial
    top = tuple(t.model_copy(update={"text": _one_line(t.text, EVIDENCE_TEXT_CHARS)}) for t in partial.top_posts)
    return partial.model_copy(update={"top_posts": top})


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _str_keys(d: dict) -> dict:
    return {str(k): v for k, v in d.items()}


def _dump_brand(b: BrandState) -> dict:
    return {
        "open": {str(m): {str(p): v.model_dump(mode="json") for p, v in parts.items()} for m, parts in b.open.items()},
        "closed": {str(m): v.model_dump(mode="json") for m, v in b.closed.items()},
        "detectors": {k: v.model_dump(mode="json") for k, v in b.detectors.items()},
        "last_seen": b.last_seen,
        "keyword_hits": b.keyword_hits,
        "shares": {ref: _str_keys(counts) for ref, counts in b.shares.items()},
        "notable": {k: v.model_dump(mode="json") for k, v in b.notable.items()},
        "alerts": b.alerts.model_dump(mode="json"),
        "incident": b.incident.model_dump(mode="json"),
    }


def _load_brand(d: dict) -> BrandState:
    return BrandState(
        open={
            int(m): {int(p): BucketMetrics.model_validate(v) for p, v in parts.items()}
            for m, parts in d["open"].items()
        },
        closed={int(m): BucketMetrics.model_validate(v) for m, v in d["closed"].items()},
        detectors={
            k: (spike.ShareState if k == "share_of_voice" else spike.SpikeState).model_validate(v)
            for k, v in d["detectors"].items()
        },
        last_seen=dict(d["last_seen"]),
        keyword_hits=[tuple(h) for h in d["keyword_hits"]],
        shares={ref: {int(m): n for m, n in c.items()} for ref, c in d["shares"].items()},
        notable={k: NotablePost.model_validate(v) for k, v in d["notable"].items()},
        alerts=lifecycle.BrandAlerts.model_validate(d["alerts"]),
        incident=incidents.BrandIncident.model_validate(d["incident"]),
    )


def run_log(watch: WatchConfig, signals: Iterable[tuple[int, Signal]]) -> Iterator[Record]:
    """A backtest over the log: the records the engine gives for `(offset, signal)` pairs, exactly as live."""
    engine = AlertEngine(watch)
    for offset, signal in signals:
        yield from engine.apply(signal, offset)
