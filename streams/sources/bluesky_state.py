"""What the Bluesky source remembers, every piece bounded: the ids it sent lately (Jetstream delivers at least
once, and a resume rewinds), the handles identity events told it, the posts it sent (for their reposts), and
where to resume (`ResumePoint`, kept through `SourceRuntime.save_cursor`).
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from schemas.records import Post

K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    """A dict that forgets its least recently set key beyond `limit` entries.

    Scenario, limit 2: set a, b, c -> a is gone, b and c are there; setting b again makes a later c-then-d
    push out c, not b."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()

    def set(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


class RecentIds:
    """The ids of the last `limit` posts sent: `add` says whether an id is new.

    Scenario, limit 2: add x -> True; add x -> False; add y, add z -> x forgotten, add x -> True."""

    def __init__(self, limit: int) -> None:
        self._seen: BoundedMap[str, None] = BoundedMap(limit)

    def add(self, post_id: str) -> bool:
        if post_id in self._seen:
            return False
        self._seen.set(post_id, None)
        return True

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._seen


@dataclass(frozen=True)
class ResumePoint:
    """Where to resume: every event up to `time_us` is handled and its posts are in Kafka; `recent` are the ids
    of the posts sent from `time_us - rewind` on, which a resume that rewinds will see again.

    Stored as JSON; a plain number (a cursor set by hand) reads as a point without recent ids.
    Scenarios: ResumePoint(1725911162329308, ("at://a/app.bsky.feed.post/1",)).encode() ->
    '{"time_us": 1725911162329308, "recent": ["at://a/app.bsky.feed.post/1"]}' and back;
    decode("1725911162329308") -> ResumePoint(1725911162329308, ()); decode("junk") -> None."""

    time_us: int
    recent: tuple[str, ...] = ()

    def encode(self) -> str:
        return json.dumps({"time_us": self.time_us, "recent": list(self.recent)})

    @classmethod
    def decode(cls, value: str | None) -> ResumePoint | None:
        if not value:
            return None
        try:
            data = json.loads(value)
        except ValueError:
            return None
        if isinstance(data, int) and not isinstance(data, bool) and data > 0:
            return cls(data)
        if not isinstance(data, dict):
            return None
        time_us, recent = data.get("time_us"), data.get("recent", [])
        if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0 or not isinstance(recent, list):
            return None
        return cls(time_us, tuple(r for r in recent if isinstance(r, str)))


@dataclass
class Progress:
    """How far the stream has been handled, and the posts sent in the last `rewind_us` of it.

    Scenario, rewind 5 s: events at t=1 s (post p1), t=4 s, t=8 s (post p2) handled -> point() is
    ResumePoint(8 s, ("p2",)): p1 is older than 8 - 5 s, so a resume from 3 s cannot see it again."""

    rewind_us: int
    #: more than this many posts within one rewind window: the oldest are left to the worker's dedup
    keep: int = 5000
    high_water_us: int = 0
    _sent: deque[tuple[int, str]] = field(default_factory=deque)

    def handled(self, time_us: int) -> None:
        if time_us > self.high_water_us:
            self.high_water_us = time_us

    def sent(self, time_us: int, post_id: str) -> None:
        self._sent.append((time_us, post_id))
        while len(self._sent) > self.keep:
            self._sent.popleft()

    def point(self) -> ResumePoint | None:
        if not self.high_water_us:
            return None
        floor = self.high_water_us - self.rewind_us
        while self._sent and self._sent[0][0] < floor:
            self._sent.popleft()
        return ResumePoint(self.high_water_us, tuple(post_id for _, post_id in self._sent))

    def resume_from(self, point: ResumePoint) -> None:
        """Continue from a stored point: its recent ids count as sent at its time."""
        self.high_water_us = max(self.high_water_us, point.time_us)
        for post_id in point.recent:
            self.sent(point.time_us, post_id)

    def cursor(self) -> int | None:
        """The `cursor` to subscribe with: the high-water mark rewound, so that events a reconnect or another
        instance might order differently are seen again (and deduplicated); None: the live tail."""
        return max(1, self.high_water_us - self.rewind_us) if self.high_water_us else None


class SentPosts(BoundedMap[str, Post]):
    """The posts sent lately by their at-uri, so that a repost of one becomes a repost Post."""
