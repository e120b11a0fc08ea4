"""What the Bluesky source does with each Jetstream message, apart from the socket: a message in, one
`Outcome` out (a post to send, a payload to deadletter, an unmatched event, or just a sign of life).

Jetstream sends every post of the network; we keep those the watch configuration matches (`Matcher`: brand
names and aliases, @handles and #hashtags on whole words, key people as authors or mentioned), the same test
the worker applies, so that nothing the worker would count is left behind and little it would drop is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from schemas.records import Post, PostKind
from streams.core.matching import Matcher
from streams.sources.bluesky_events import (
    POST_COLLECTION,
    REPOST_COLLECTION,
    BadEvent,
    identity_handle,
    parse_commit,
    parse_event,
    post_text,
    repost_subject,
    to_post,
    to_repost,
)
from streams.sources.bluesky_state import BoundedMap, Progress, RecentIds, ResumePoint, SentPosts

#: DIDs whose handle an identity event told us (about 150 bytes each)
HANDLES_KEPT = 100_000
#: post ids remembered against Jetstream's repeats and a resume's rewind
RECENT_IDS_KEPT = 20_000
#: matched posts remembered so that their reposts are recognised
SENT_POSTS_KEPT = 20_000


@dataclass(frozen=True)
class Outcome:
    action: Literal["post", "reject", "unmatched", "alive"]
    post: Post | None = None
    reason: str = ""
    time_us: int | None = None  # the event's; None for a message that is not an event


ALIVE = Outcome("alive")
UNMATCHED = Outcome("unmatched")


class JetstreamReader:
    """Scenarios (watching Nordair; each outcome settled before the next message):
    - a created post "Delayed again, @nordair" -> Outcome("post", Post(...));
    - the same event again -> Outcome("alive") (a repeat: never sent twice);
    - a created post "lovely weather" -> Outcome("unmatched"), and "alive" when it is a replay from before the
      high-water mark (already counted once);
    - an identity event -> Outcome("alive"), and the DID's posts carry its handle from then on;
    - a delete or an update -> Outcome("alive") (a post once sent stays counted; Bluesky has no post edits);
    - a repost of a post sent -> Outcome("post", repost Post); of any other post -> Outcome("unmatched");
    - "not json" -> Outcome("reject", reason="not JSON: ...").
    """

    def __init__(self, matcher: Matcher, rewind_us: int, *, reposts: bool = True) -> None:
        self.matcher = matcher
        self.reposts = reposts
        self.progress = Progress(rewind_us)
        self.handles: BoundedMap[str, str] = BoundedMap(HANDLES_KEPT)
        self.recent = RecentIds(RECENT_IDS_KEPT)
        self.sent_posts = SentPosts(SENT_POSTS_KEPT)

    def resume_from(self, point: ResumePoint) -> None:
        self.progress.resume_from(point)
        for post_id in point.recent:
            self.recent.add(post_id)

    def read(self, raw: bytes | str) -> Outcome:
        """What to do with one message. Nothing is remembered until the source has done it (`settle`): a post
        that could not be sent is neither a repeat nor behind the saved cursor."""
        try:
            event = parse_event(raw)
        except BadEvent as exc:
            return Outcome("reject", reason=str(exc))
        replay = event.time_us <= self.progress.high_water_us
        try:
            outcome = self._dispatch(event, replay)
        except BadEvent as exc:
            outcome = Outcome("reject", reason=str(exc))
        return replace(outcome, time_us=event.time_us)

    def settle(self, outcome: Outcome) -> None:
        """The source has done what `outcome` said (sent the post, deadlettered the payload, ...)."""
        if outcome.post is not None:
            self.recent.add(outcome.post.source_id)
            if outcome.post.kind != PostKind.REPOST:
                self.sent_posts.set(outcome.post.source_id, outcome.post)
            self.progress.sent(outcome.time_us, outcome.post.source_id)
        if outcome.time_us is not None:
            self.progress.handled(outcome.time_us)

    def _dispatch(self, event, replay: bool) -> Outcome:
        if event.kind == "identity":
            handle = identity_handle(event)
            if handle:
                self.handles.set(event.did, handle)
            return ALIVE
        if event.kind != "commit":
            return ALIVE  # account events and kinds Jetstream may add later
        commit = parse_commit(event)
        if commit.operation != "create":
            return ALIVE
        if commit.collection == POST_COLLECTION:
            return self._post(event, commit, replay)
        if commit.collection == REPOST_COLLECTION and self.reposts:
            return self._repost(event, commit, replay)
        return ALIVE

    def _post(self, event, commit, replay: bool) -> Outcome:
        text = post_text(commit.record)
        handle = self.handles.get(event.did)
        if not self.matcher.brands(text) and not self.matcher.key_people(handle or "", text):
            return ALIVE if replay else UNMATCHED
        post = to_post(event.did, commit, event.time_us, handle)
        return ALIVE if post.source_id in self.recent else Outcome("post", post)

    def _repost(self, event, commit, replay: bool) -> Outcome:
        original = self.sent_posts.get(repost_subject(commit.record) or "")
        if original is None:
            return ALIVE if replay else UNMATCHED
        post = to_repost(event.did, commit, event.time_us, self.handles.get(event.did), original)
        return ALIVE if post.source_id in self.recent else Outcome("post", post)
