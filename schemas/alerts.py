"""Alert-engine records: alert transitions, incidents, operator actions and webhook deliveries.

Each is a versioned record on its own topic (`lytte.alerts`, `lytte.incidents`, `lytte.actions`,
`lytte.deliveries`) and has a JSON Schema in `schemas/json/`. Times named `*_at` that describe what the posts
did (an alert's start and end, an incident's opening) are event time: the posts' time, so that a backtest over
the log gives the same records as live processing. Times of what people and receivers did (an acknowledgement,
a delivery attempt) are wall-clock.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Literal

from pydantic import Field, NonNegativeInt

from schemas.records import Record, SentimentLabel, TopPost, UtcDatetime

ALERT_SCHEMA_VERSION = 1
INCIDENT_SCHEMA_VERSION = 1
ACTION_SCHEMA_VERSION = 1
DELIVERY_SCHEMA_VERSION = 1


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """critical 0, warning 1, info 2: the lower, the more urgent."""
        return list(Severity).index(self)


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: dict[str, str]) -> str:
    """A stable hash of an alert's label set (the identity of an alert, as in Alertmanager): 16 hex digits.

    >>> fingerprint({"alertname": "volume_spike", "brand": "nordair"}) == fingerprint(
    ...     {"brand": "nordair", "alertname": "volume_spike"})
    True
    """
    digest = hashlib.sha256()
    for name in sorted(labels):
        digest.update(name.encode())
        digest.update(b"\x00")
        digest.update(labels[name].encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


class EvidenceBucket(Record):
    """One minute of a brand's posts that an alert looked at."""

    start: UtcDatetime
    posts: NonNegativeInt = 0
    originals: NonNegativeInt = 0
    reposts: NonNegativeInt = 0
    quotes: NonNegativeInt = 0
    replies: NonNegativeInt = 0
    unique_authors: NonNegativeInt = 0
    negative: NonNegativeInt = 0


class AlertEvidence(Record):
    """Why an alert fired: what was measured, against what, and which posts made it."""

    window_start: UtcDatetime
    window_end: UtcDatetime
    #: what the rule measured (posts in the window, negative posts, reposts of one post, ...)
    value: float
    #: what it was compared with (the learned baseline; the threshold itself for rules without one)
    baseline: float
    #: how far beyond the baseline, in the rule's own unit (robust z for the statistical rules)
    score: float
    #: the score at which the rule fires
    threshold: float
    buckets: tuple[EvidenceBucket, ...] = ()
    top_posts: tuple[TopPost, ...] = ()
    #: reposts / posts in the window
    repost_share: float = Field(default=0.0, ge=0, le=1)
    unique_authors: NonNegativeInt = 0
    #: "amplified": most of the window is reposts by few authors; "organic": many distinct people
    amplification: Literal["organic", "amplified", "single"] = "single"
    post_ids: tuple[str, ...] = ()
    #: the raw records behind the alert, as "partition:offset" of posts.raw
    offsets: tuple[str, ...] = ()
    #: rule-specific words: the query that matched, the key person, ...
    detail: str = ""


class Alert(Record):
    """One state transition of one alert. Key on `lytte.alerts`: the brand (so one engine partition sees all
    of a brand's alerts); the latest record per fingerprint is the alert's state.

    `labels` always hold `alertname` (the rule's name), `brand` and `severity`, and whatever else makes the
    alert distinct (a key person's handle, a viral post's id)."""

    schema_version: Literal[1] = ALERT_SCHEMA_VERSION
    fingerprint: str = Field(pattern=r"^[0-9a-f]{16}$")
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    #: the event-time watermark when the transition was decided
    event_time: UtcDatetime
    evidence: AlertEvidence

    @property
    def brand(self) -> str:
        return self.labels["brand"]

    @property
    def rule(self) -> str:
        return self.labels["alertname"]

    @property
    def severity(self) -> Severity:
        return Severity(self.labels["severity"])


class Incident(Record):
    """A brand's alerts that belong together in time. Key on `lytte.incidents`: the brand.

    `status` is the transition this record announces: opened, updated (an alert joined, or one resolved while
    others fire) or resolved (every alert resolved and the brand stayed quiet for the closing period)."""

    schema_version: Literal[1] = INCIDENT_SCHEMA_VERSION
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*:[0-9]+$", description="<brand>:<epoch seconds of opening>")
    brand: str
    status: Literal["opened", "updated", "resolved"]
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    severity: Severity
    #: every alert that has been part of the incident, and those firing now
    alerts: tuple[str, ...]
    firing: tuple[str, ...]
    summary: str = ""


MatchOp = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class Matcher(Record):
    """An Alertmanager label matcher: `brand=nordair`, `severity!=info`, `alertname=~"volume.*"`."""

    name: str
    op: MatchOp = "="
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """'brand=nordair' -> Matcher(name='brand', op='=', value='nordair'); quotes around the value are
        dropped; anything else raises ValueError saying what a matcher looks like."""
        found = _MATCHER.match(text)
        if not found:
            raise ValueError(f"bad matcher {text!r}: expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad matcher {text!r}: {exc}") from None
        return cls(name=name, op=op, value=value)

    def matches(self, labels: dict[str, str]) -> bool:
        """A missing label is the empty string (Alertmanager's rule); regexes are anchored."""
        have = labels.get(self.name, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        found = re.fullmatch(self.value, have) is not None
        return found if self.op == "=~" else not found


def all_match(matchers: tuple[Matcher, ...] | list[Matcher], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


class Silence(Record):
    """Alerts whose labels match every matcher are not notified between `starts_at` and `ends_at`."""

    id: str
    matchers: tuple[Matcher, ...] = Field(min_length=1)
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    created_by: str
    comment: str = Field(min_length=1, description="why: a silence without a reason is refused")


class SentimentCorrection(Record):
    """An operator's reading of one post's sentiment, in place of the model's: what the worker needs to show the
    corrected label in the live view (the brand's latest posts, keyed by post id), to count it again in the
    right minute (`created_at`, event time) and to train the brand's adjustment (`text`, when it was known).

    Scenario: the wall shows "thanks for the 3 hour delay" (post x:17) as positive; an operator says negative ->
    SentimentCorrection(post_id="x:17", brand="nordair", created_at=<the post's time>, old_label="positive",
    new_label="negative", model="vader-3.3.2+lytte-1", text="thanks for the 3 hour delay")."""

    #: `Post.id`: "<source>:<source id>"
    post_id: str = Field(min_length=1, max_length=300)
    brand: str = Field(min_length=1)
    #: the post's own time (event time): the minute whose counts the correction changes
    created_at: UtcDatetime
    old_label: SentimentLabel
    new_label: SentimentLabel
    #: the model whose score is corrected (`Sentiment.model`); None when it could not be told
    model: str | None = None
    #: the language that model scored in ("en", "da", ...; the base score is `SentimentRouter.score(text,
    #: language)` again), None when it could not be told
    language: str | None = Field(default=None, max_length=16)
    #: the old score's compound, when known
    old_compound: float | None = Field(default=None, ge=-1, le=1)
    #: the post's text as the operator saw it, when known (an adjustment trains on it); untrusted like any post
    text: str | None = Field(default=None, max_length=25_000)
    #: where the post was counted (`Evidence`): the posts.raw partition whose worker moves the post's count from
    #: the old label to the new one, and the post's offset there; None when the post was given by hand (the
    #: correction then trains the adjustment but cannot change the counts)
    raw_partition: NonNegativeInt | None = None
    raw_offset: NonNegativeInt | None = None


class Action(Record):
    """What a person did. Key on `lytte.actions`: the brand, or b"" for actions about no single brand.

    - `silence`: `silence` set; `expire_silence`: `silence_id` set (ends it now);
    - `ack`: `fingerprint` or `incident` set (seen, being handled: notifications stop repeating);
    - `resolve`: `fingerprint` or `incident` set (closed by hand);
    - `correct_sentiment`: `correction` set and `brand` its brand (an operator's label for one post: the view and
      the rules use it in place of the model's; a later correction of the same post replaces an earlier one).

    The correction came after the first version of this record, as an optional field and a new kind: records
    written before it read unchanged, so `schema_version` stays 1.
    """

    schema_version: Literal[1] = ACTION_SCHEMA_VERSION
    id: str
    kind: Literal["silence", "expire_silence", "ack", "resolve", "correct_sentiment"]
    at: UtcDatetime
    by: str = Field(min_length=1)
    reason: str = ""
    brand: str | None = None
    fingerprint: str | None = None
    incident: str | None = None
    silence: Silence | None = None
    silence_id: str | None = None
    correction: SentimentCorrection | None = None
    #: where it came from: cli, dashboard, pagerduty
    origin: str = "cli"


class Notification(Record):
    """One message for one receiver about one group of alerts. `webhook_id` is its identity for the receiver
    (the Standard Webhooks `webhook-id`): every attempt to send it carries the same id."""

    webhook_id: str = Field(pattern=r"^msg_[A-Za-z0-9_-]+$")
    receiver: str
    group_key: str
    group_labels: dict[str, str]
    status: AlertStatus
    alerts: tuple[Alert, ...]
    #: wall-clock time the dispatcher decided it
    created_at: UtcDatetime
    #: incident the alerts belong to, when there is one (PagerDuty's dedup_key)
    incident: str | None = None
    truncated_alerts: NonNegativeInt = 0


DeliveryState = Literal["pending", "retrying", "delivered", "failed", "dead", "disabled"]


class Delivery(Record):
    """A step in the life of one notification for one receiver. Key on `lytte.deliveries`: the webhook id.

    `pending` carries the notification (so that a restarted worker can send what it had not); `retrying` an
    attempt that failed and will be tried again at `next_attempt_at`; `delivered` a 2xx; `failed` a refusal
    that is not retried (4xx other than 408 and 429); `dead` the retry schedule ran out; `disabled` a 410
    (the endpoint is switched off until an operator turns it back on)."""

    schema_version: Literal[1] = DELIVERY_SCHEMA_VERSION
    webhook_id: str
    receiver: str
    state: DeliveryState
    attempt: NonNegativeInt = 0
    at: UtcDatetime
    status_code: int | None = None
    error: str = ""
    next_attempt_at: UtcDatetime | None = None
    notification: Notification | None = None
