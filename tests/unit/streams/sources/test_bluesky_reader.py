import json

import pytest

from schemas.records import PostKind
from schemas.watch import WatchConfig
from streams.core.matching import Matcher
from streams.sources.bluesky_reader import JetstreamReader
from streams.sources.bluesky_state import ResumePoint
from tests.fakes.jetstream import (
    account_event,
    delete_event,
    identity_event,
    like_event,
    now_us,
    post_event,
    repost_event,
)

WATCH = WatchConfig.model_validate(
    {
        "brands": [{"id": "nordair", "name": "Nordair", "handles": ["@nordair"], "hashtags": ["#nordair"]}],
        "competitors": [{"id": "skyline", "name": "Skyline", "exclude": ["city skyline"]}],
        "key_people": [{"handle": "@ingrid.bsky.social", "label": "journalist"}],
    }
)
REWIND_US = 5_000_000


@pytest.fixture
def reader() -> JetstreamReader:
    return JetstreamReader(Matcher(WATCH), REWIND_US)


def read(reader: JetstreamReader, event: dict | str):
    """As the source does: read, then settle (the post was sent, the payload deadlettered, ...)."""
    outcome = reader.read(event if isinstance(event, str) else json.dumps(event))
    reader.settle(outcome)
    return outcome


@pytest.mark.parametrize(
    "text",
    ["Delayed again with Nordair", "hello @nordair.bsky.social", "so bad #NordAir", "NORDAIR lost my bag", "Skyline!"],
)
def test_names_handles_and_hashtags_match(reader, text):
    outcome = read(reader, post_event("did:plc:a", "3aaa", text))
    assert outcome.action == "post" and outcome.post.text == text


@pytest.mark.parametrize("text", ["lovely weather", "nordairline is not it", "the city skyline at night", "#nordairs"])
def test_everything_else_is_unmatched(reader, text):
    assert read(reader, post_event("did:plc:a", "3aaa", text)).action == "unmatched"


def test_a_key_person_matches_as_author_once_the_handle_is_known(reader):
    assert read(reader, post_event("did:plc:ingrid", "3a", "good morning")).action == "unmatched"
    assert read(reader, identity_event("did:plc:ingrid", "ingrid.bsky.social")).action == "alive"
    outcome = read(reader, post_event("did:plc:ingrid", "3b", "good morning again"))
    assert outcome.action == "post" and outcome.post.author.handle == "ingrid.bsky.social"


def test_a_key_person_mentioned_matches(reader):
    assert read(reader, post_event("did:plc:a", "3a", "ask @ingrid.bsky.social")).action == "post"


def test_repeats_are_sent_once(reader):
    event = post_event("did:plc:a", "3aaa", "Nordair again")
    assert read(reader, event).action == "post"
    assert read(reader, event).action == "alive"  # Jetstream's at-least-once repeat
    assert read(reader, post_event("did:plc:a", "3aaa", "Nordair again")).action == "alive"  # a replay, later time


def test_a_replayed_unmatched_event_is_not_counted_twice(reader):
    event = post_event("did:plc:a", "3aaa", "lovely weather")
    assert read(reader, event).action == "unmatched"
    read(reader, post_event("did:plc:a", "3bbb", "more weather"))
    assert read(reader, event).action == "alive"  # older than the high-water mark: seen before


def test_deletes_updates_accounts_and_other_collections_are_signs_of_life(reader):
    update = post_event("did:plc:a", "3aaa", "Nordair edited")
    update["commit"]["operation"] = "update"
    for event in (
        delete_event("did:plc:a", "3aaa"),
        update,
        account_event("did:plc:a"),
        like_event("did:plc:a", "3l", "at://x/app.bsky.feed.post/1"),
    ):
        assert read(reader, event).action == "alive"


def test_bad_events_are_rejected_with_a_reason(reader):
    assert read(reader, "not json").action == "reject"
    no_text = post_event("did:plc:a", "3aaa", "x")
    del no_text["commit"]["record"]["text"]
    outcome = read(reader, no_text)
    assert outcome.action == "reject" and "record.text" in outcome.reason


def test_a_repost_of_a_post_sent_is_a_repost_and_others_are_unmatched(reader):
    sent = read(reader, post_event("did:plc:a", "3aaa", "Nordair lost my bag")).post
    outcome = read(reader, repost_event("did:plc:b", "3rrr", sent.source_id))
    assert outcome.action == "post"
    assert outcome.post.kind == PostKind.REPOST and outcome.post.referenced_id == sent.source_id
    assert read(reader, repost_event("did:plc:b", "3sss", "at://did:plc:z/app.bsky.feed.post/9")).action == "unmatched"


def test_a_post_not_settled_is_not_remembered(reader):
    event = post_event("did:plc:a", "3aaa", "Nordair again")
    assert reader.read(json.dumps(event)).action == "post"  # the source stopped before it was sent
    assert reader.progress.point() is None  # the cursor does not move past it
    assert reader.read(json.dumps(event)).action == "post"  # so its replay is sent


def test_reposts_can_be_left_out():
    reader = JetstreamReader(Matcher(WATCH), REWIND_US, reposts=False)
    sent = read(reader, post_event("did:plc:a", "3aaa", "Nordair lost my bag")).post
    assert read(reader, repost_event("did:plc:b", "3rrr", sent.source_id)).action == "alive"


def test_the_resume_point_holds_the_ids_a_rewind_will_repeat(reader):
    t0 = now_us()
    read(reader, post_event("did:plc:a", "3old", "Nordair early", time_us=t0))
    read(reader, post_event("did:plc:a", "3new", "Nordair late", time_us=t0 + 8_000_000))
    read(reader, post_event("did:plc:a", "3zzz", "nothing", time_us=t0 + 9_000_000))
    point = reader.progress.point()
    assert point.time_us == t0 + 9_000_000
    assert point.recent == ("at://did:plc:a/app.bsky.feed.post/3new",)
    assert reader.progress.cursor() == t0 + 9_000_000 - REWIND_US

    # a new reader (a restart) resumes from the stored point: the repeated post is not sent again
    again = JetstreamReader(Matcher(WATCH), REWIND_US)
    again.resume_from(ResumePoint.decode(point.encode()))
    assert read(again, post_event("did:plc:a", "3new", "Nordair late", time_us=t0 + 8_000_000)).action == "alive"
    assert read(again, post_event("did:plc:a", "3fresh", "Nordair now", time_us=t0 + 10_000_000)).action == "post"
