"""Replay of recorded posts: JSON Lines in the Post schema, or CSV with a column mapping.

The posts keep their recorded gaps in time; they are sent with those gaps divided by a speed-up (`speed=0`
sends as fast as possible). By default the timeline is moved so that the last post is dated when it is sent:
the wall shows the replay as recent history with its original minutes. `keep_time=True` keeps the recorded
timestamps (see `timeline`).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from pydantic import ValidationError

from schemas.records import Author, Engagement, Post, Source


class ReplayError(ValueError):
    """A replay file that cannot be read; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class CsvMapping:
    """Which CSV column feeds which Post field. The defaults read the Twitter US Airline Sentiment file."""

    source_id: str = "tweet_id"
    text: str = "text"
    created_at: str = "tweet_created"
    author_handle: str = "name"
    created_at_format: str = "%Y-%m-%d %H:%M:%S %z"
    reposts: str | None = "retweet_count"

    @classmethod
    def parse(cls, spec: str) -> CsvMapping:
        """ "text=body,created_at=ts" -> CsvMapping(text="body", created_at="ts", ...)."""
        values = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, column = part.partition("=")
            if not sep or name not in cls.__dataclass_fields__ or name == "extra":
                raise ReplayError(
                    f"column mapping {part!r}: expected FIELD=COLUMN with FIELD one of "
                    f"{', '.join(f for f in cls.__dataclass_fields__ if f != 'extra')}"
                )
            values[name] = column
        return cls(**values)


def read_jsonl(path: Path) -> Iterator[Post]:
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Post.model_validate(orjson.loads(line))
            except (orjson.JSONDecodeError, ValidationError) as exc:
                raise ReplayError(f"{path}:{number}: not a Post: {str(exc).splitlines()[0]}") from None


def read_csv(path: Path, mapping: CsvMapping = CsvMapping()) -> Iterator[Post]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        needed = [mapping.source_id, mapping.text, mapping.created_at, mapping.author_handle]
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise ReplayError(f"{path}:1: missing column(s) {', '.join(missing)}; map them with --columns")
        for number, row in enumerate(reader, 2):
            try:
                created = datetime.strptime(row[mapping.created_at], mapping.created_at_format)
                handle = row[mapping.author_handle].strip() or "unknown"
                reposts = int(row[mapping.reposts] or 0) if mapping.reposts else 0
                yield Post(
                    source=Source.REPLAY,
                    source_id=row[mapping.source_id],
                    created_at=created,
                    text=row[mapping.text],
                    author=Author(id=handle.lower(), handle=handle),
                    engagement=Engagement(reposts=reposts),
                )
            except (ValueError, ValidationError) as exc:
                raise ReplayError(f"{path}:{number}: {str(exc).splitlines()[0]}") from None


def read_posts(path: Path, mapping: CsvMapping | None = None) -> list[Post]:
    """All posts of a file, sorted by created_at (recorded files are not always in order)."""
    posts = list(read_csv(path, mapping or CsvMapping()) if path.suffix.lower() == ".csv" else read_jsonl(path))
    posts.sort(key=lambda p: p.created_at)
    return posts


def timeline(posts: list[Post], speed: float, keep_time: bool, start: datetime) -> Iterator[tuple[float, Post]]:
    """Yield (seconds after the start to send it, post). Sends are spaced by the recorded gaps divided by
    `speed` (0: all at once), but the posts keep their recorded gaps in time, so every minute bucket holds
    what it held then and the rules see the original rates:

    - `keep_time`: the recorded timestamps (history, for a replay into its own topics: the worker judges a
      post's age by its stream's time, not by the wall clock);
    - otherwise the whole timeline moves by whole minutes so that the last post is dated in the minute
      before it is sent (at `start + span / speed`; with speed 0, `start`) and no post is dated after it is
      sent; posts of one recorded minute still share a minute.

    Scenario: posts at 10:00:00, 10:01:00 and 10:05:00, speed 60, start 12:00:30 -> (0.0, post at 11:55:00),
    (1.0, 11:56:00) and (5.0, 12:00:00). Speed 0 -> the same dates, all sent at 0.0. With keep_time the posts
    keep 10:00:00, 10:01:00 and 10:05:00.
    """
    if not posts:
        return
    first = posts[0].created_at
    span = (posts[-1].created_at - first).total_seconds()
    # a whole number of minutes, so that the posts of one recorded minute share one bucket, as they did
    latest = start + timedelta(seconds=span / speed if speed > 0 else 0.0) - posts[-1].created_at
    shift = timedelta(minutes=latest.total_seconds() // 60)
    for post in posts:
        gap = (post.created_at - first).total_seconds()
        delay = gap / speed if speed > 0 else 0.0
        if keep_time:
            yield delay, post
        else:
            yield delay, post.model_copy(update={"created_at": post.created_at + shift})


def play(
    items: Iterable[tuple[float, Post]],
    send: Callable[[Post], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send each post when its time has come; return how many were sent."""
    began = clock()
    sent = 0
    for delay, post in items:
        wait = began + delay - clock()
        if wait > 0:
            sleep(wait)
        send(post)
        sent += 1
    return sent
