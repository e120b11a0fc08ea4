"""`lytte sentiment correct`: an operator's label for one post, written as an action on `lytte.actions`.

The old label, the post's time and text come from where the operator saw the post: the brand's latest posts in
the Redis live view (`RedisKeys.latest`). A post that has left the view (only the newest
`LYTTE_REDIS_POSTS_KEPT` per brand stay) needs `--old-label` and `--created-at` given by hand. The action
carries what the worker needs to apply it (post id, brand, the post's created_at, old and new label, the old
score's model, the text when known, and the posts.raw partition and offset where the post was counted) and who
and when. The worker forwards it to that partition, whose bucket then counts the post under the new label
(`streams.core.correction`): the view and the rules read the corrected counts. A post given by hand has no
partition: its correction is in the log (the brand's adjustment trains on it) but changes no count.

The model of the old score is not in the view's entry: it is told by scoring the text again with the worker's
scorers (the guessed language's first) and taking the one that gives the stored compound and label exactly;
None when none does (a post scored by an older model version, or given by hand without its text).

Every Redis and Kafka call is bounded (`alerts_admin.KAFKA_TIMEOUT_S`, `REDIS_TIMEOUT_S`).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from schemas.alerts import Action, SentimentCorrection
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from streams.sentiment.evaluate import CLASSES

REDIS_TIMEOUT_S = 5.0


class CorrectionError(ValueError):
    """A correction that cannot be made: one line for the operator."""


@dataclass(frozen=True)
class SeenPost:
    """What the live view showed of a post: its time, label, compound and text."""

    post_id: str
    created_at: datetime
    label: str
    compound: float | None = None
    text: str | None = None
    model: str | None = None
    language: str | None = None
    raw_partition: int | None = None
    raw_offset: int | None = None


def parse_time(text: str) -> datetime:
    """ISO 8601; no zone means UTC: "2015-02-24T11:35:52" -> 2015-02-24 11:35:52 UTC; "2015-02-24 11:35:52 -0800"
    -> 19:35:52 UTC; "yesterday" -> CorrectionError."""
    value = text.strip()
    for candidate in (value, value.replace(" -", "-").replace(" +", "+")):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise CorrectionError(f"--created-at {text!r}: expected an ISO 8601 time, e.g. 2026-12-07T04:05:00Z")


def seen_post(entry: bytes | str) -> SeenPost | None:
    """One entry of the latest-posts set (`redis_sink.display_post`) -> SeenPost; an entry that is not that JSON
    -> None (the view is rebuilt from the log; a bad entry must not stop a correction of another post).

    Scenario: b'{"id": "x:1", "created_at": "2026-12-07T04:00:00+00:00", "label": "positive", "compound": 0.4,
    "text": "thanks for the delay", ...}' -> SeenPost("x:1", 04:00 UTC, "positive", 0.4, "thanks for the delay")."""
    try:
        data = orjson.loads(entry)
        return SeenPost(
            post_id=str(data["id"]),
            created_at=parse_time(str(data["created_at"])),
            label=str(data["label"]),
            compound=float(data["compound"]) if data.get("compound") is not None else None,
            text=data.get("text") if isinstance(data.get("text"), str) else None,
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            language=data.get("language") if isinstance(data.get("language"), str) else None,
            raw_partition=_count(data.get("raw_partition")),
            raw_offset=_count(data.get("raw_offset")),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _count(value: object) -> int | None:
    """A partition or offset from the entry: a non-negative int, else None (entries written before they were)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def find_post(entries: list[bytes], post_id: str) -> SeenPost | None:
    """The post with that id among the view's entries; None when it is not there."""
    for entry in entries:
        seen = seen_post(entry)
        if seen is not None and seen.post_id == post_id:
            return seen
    return None


def read_latest(settings: Settings, brand: str) -> list[bytes]:
    """The brand's latest-posts entries from Redis, within REDIS_TIMEOUT_S (CorrectionError if it does not
    answer: a correction then needs --old-label and --created-at)."""
    import redis

    from streams.redis_client import bounded_redis

    client = bounded_redis(settings, REDIS_TIMEOUT_S)
    try:
        return list(client.zrange(RedisKeys(settings.redis_prefix).latest(brand), 0, -1))
    except (redis.RedisError, OSError) as exc:
        raise CorrectionError(
            f"the live view (Redis) did not answer ({type(exc).__name__}): give --old-label and --created-at"
        ) from None
    finally:
        client.close()


def model_of(text: str | None, compound: float | None, label: str) -> tuple[str | None, str | None]:
    """(model, language) of the scorer that gives this text this compound and label, trying the guessed
    language's first; (None, None) when none does or there is no text. Scenario: ("thanks for the 3 hour delay",
    <the English scorer's compound>, "negative") -> (the English scorer's model name, "en")."""
    if not text or compound is None:
        return None, None
    from streams.sentiment.language import LanguageGuesser
    from streams.sentiment.router import SentimentRouter

    router = SentimentRouter.default()
    guessed = LanguageGuesser().language(text, None)
    order = [guessed, *(language for language in router.languages if language != guessed)]
    for language in order:
        scorer = router.scorer(language)
        if scorer is None:
            continue
        sentiment = scorer.score(text)
        if sentiment.label == label and abs(sentiment.compound - compound) < 1e-9:
            return sentiment.model, language
    return None, None


def correction_action(
    post_id: str,
    brand: str,
    new_label: str,
    seen: SeenPost,
    by: str,
    now: datetime,
    reason: str = "",
) -> Action:
    """The action for one correction. Scenario: ("x:17", "nordair", "negative", SeenPost(label="positive", ...),
    "ana", now) -> Action(kind="correct_sentiment", brand="nordair", by="ana", correction=SentimentCorrection(
    post_id="x:17", old_label="positive", new_label="negative", ...)); a label outside negative/neutral/positive
    -> CorrectionError. A new label equal to the old one is written too: a confirmation, which an adjustment needs
    as much as the corrections (trained on corrections alone, it would learn that the model is always wrong)."""
    new_label = new_label.strip().lower()
    old_label = seen.label.strip().lower()
    for name, value in (("--label", new_label), ("old label", old_label)):
        if value not in CLASSES:
            raise CorrectionError(f"{name} {value!r}: expected negative, neutral or positive")
    correction = SentimentCorrection(
        post_id=post_id,
        brand=brand,
        created_at=seen.created_at,
        old_label=old_label,
        new_label=new_label,
        model=seen.model,
        language=seen.language,
        old_compound=seen.compound,
        text=seen.text,
        raw_partition=seen.raw_partition,
        raw_offset=seen.raw_offset,
    )
    return Action(
        id=f"action-{uuid.uuid4().hex}",
        kind="correct_sentiment",
        at=now,
        by=by,
        reason=reason.strip(),
        brand=brand,
        correction=correction,
    )


def correct(
    settings: Settings,
    post_id: str,
    brand: str,
    label: str,
    by: str,
    reason: str = "",
    old_label: str | None = None,
    created_at: str | None = None,
    text: str | None = None,
    now: datetime | None = None,
) -> Action:
    """Find the post in the brand's live view (or take --old-label and --created-at), write the action to the
    actions topic and return it. What the view shows wins over what is given by hand for the same post."""
    from streams import alerts_admin

    now = now or datetime.now(UTC)
    seen: SeenPost | None = None
    lookup_error: CorrectionError | None = None
    try:
        seen = find_post(read_latest(settings, brand), post_id)
    except CorrectionError as exc:
        lookup_error = exc
    if seen is None:
        if old_label is None or created_at is None:
            if lookup_error is not None:
                raise lookup_error
            raise CorrectionError(
                f"post {post_id} is not among {brand}'s latest posts in the live view: "
                "give --old-label and --created-at"
            )
        seen = SeenPost(post_id=post_id, created_at=parse_time(created_at), label=old_label, text=text)
    elif seen.model is None or seen.language is None:
        model, language = model_of(seen.text, seen.compound, seen.label)
        seen = dataclasses.replace(seen, model=seen.model or model, language=seen.language or language)
    action = correction_action(post_id, brand, label, seen, by, now, reason)
    alerts_admin.write_action(settings, action)
    return action


def action_line(action: Action) -> str:
    """What the CLI prints: "correct_sentiment: written (action-...) by ana: nordair x:17 positive -> negative
    (created 2026-12-07T04:00:00+00:00, model vader-3.3.2+lytte-1)"."""
    c = action.correction
    assert c is not None
    change = f"{c.old_label} -> {c.new_label}" if c.old_label != c.new_label else f"{c.new_label} (confirmed)"
    counts = (
        "the view and the rules count it as corrected"
        if c.raw_partition is not None
        else "where it was counted is unknown: the counts stay, the adjustment learns from it"
    )
    return (
        f"{action.kind}: written ({action.id}) by {action.by}: {c.brand} {c.post_id} {change} "
        f"(created {c.created_at.isoformat()}, model {c.model or 'unknown'}); {counts}"
    )
