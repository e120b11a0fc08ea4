import json
from datetime import UTC, datetime

import pytest

from schemas.records import PostKind, Source
from streams.sources.bluesky_events import (
    BadEvent,
    created_at,
    identity_handle,
    language,
    parse_commit,
    parse_event,
    reference,
    to_post,
    to_repost,
)
from tests.fakes.jetstream import identity_event, post_event, repost_event

T_US = 1725911162329308  # 2024-09-09T19:46:02.329308Z


def _post(event: dict, handle: str | None = None):
    parsed = parse_event(json.dumps(event))
    return to_post(parsed.did, parse_commit(parsed), parsed.time_us, handle)


def test_a_created_post_becomes_a_post():
    event = post_event(
        "did:plc:abc", "3l3qo2vuowo2b", "Delayed again @nordair", langs=["en"], created_at="2024-09-09T19:46:01.102Z"
    )
    post = _post(event, handle="ingrid.bsky.social")
    assert post.source == Source.BLUESKY
    assert post.source_id == "at://did:plc:abc/app.bsky.feed.post/3l3qo2vuowo2b"
    assert post.id == "bluesky:at://did:plc:abc/app.bsky.feed.post/3l3qo2vuowo2b"
    assert post.author.id == "did:plc:abc" and post.author.handle == "ingrid.bsky.social"
    assert post.text == "Delayed again @nordair"
    assert post.language == "en"
    assert post.created_at == datetime(2024, 9, 9, 19, 46, 1, 102000, tzinfo=UTC)
    assert post.kind == PostKind.ORIGINAL and post.referenced_id is None
    assert post.url == "https://bsky.app/profile/did:plc:abc/post/3l3qo2vuowo2b"


def test_the_did_stands_for_an_unknown_handle():
    assert _post(post_event("did:plc:abc", "3l3q", "hi")).author.handle == "did:plc:abc"


def test_reply_and_quote_name_the_post_they_refer_to():
    parent = "at://did:plc:p/app.bsky.feed.post/3par"
    quoted = "at://did:plc:q/app.bsky.feed.post/3quo"
    reply = _post(post_event("did:plc:abc", "3r", "@nordair yes", reply_to=parent))
    assert (reply.kind, reply.referenced_id) == (PostKind.REPLY, parent)
    quote = _post(post_event("did:plc:abc", "3q", "look at this", quote=quoted))
    assert (quote.kind, quote.referenced_id) == (PostKind.QUOTE, quoted)
    # a reply that also quotes is a reply
    both = _post(post_event("did:plc:abc", "3b", "both", reply_to=parent, quote=quoted))
    assert (both.kind, both.referenced_id) == (PostKind.REPLY, parent)


def test_record_with_media_is_a_quote_but_an_embedded_list_is_not():
    quoted = "at://did:plc:q/app.bsky.feed.post/3quo"
    with_media = {
        "embed": {
            "$type": "app.bsky.embed.recordWithMedia",
            "record": {"$type": "app.bsky.embed.record", "record": {"uri": quoted, "cid": "x"}},
            "media": {"$type": "app.bsky.embed.images", "images": []},
        }
    }
    assert reference(with_media) == (PostKind.QUOTE, quoted)
    a_list = {"embed": {"$type": "app.bsky.embed.record", "record": {"uri": "at://did:plc:q/app.bsky.graph.list/3l"}}}
    assert reference(a_list) == (PostKind.ORIGINAL, None)
    assert reference({"embed": {"$type": "app.bsky.embed.external", "external": {"uri": "https://x.y"}}}) == (
        PostKind.ORIGINAL,
        None,
    )


def test_language_is_the_first_of_langs():
    assert language({"langs": ["pt-BR", "en"]}) == "pt-BR"
    assert language({"langs": []}) is None
    assert language({}) is None
    assert language({"langs": ["x" * 40]}) is None


def test_created_at_falls_back_to_jetstream_time():
    seen = datetime.fromtimestamp(T_US / 1e6, UTC)
    assert created_at({"createdAt": "2024-09-09T19:46:01.102Z"}, T_US) == datetime(
        2024, 9, 9, 19, 46, 1, 102000, tzinfo=UTC
    )
    assert created_at({"createdAt": "2024-09-09T21:46:01+02:00"}, T_US) == datetime(2024, 9, 9, 19, 46, 1, tzinfo=UTC)
    assert created_at({"createdAt": "2030-01-01T00:00:00Z"}, T_US) == seen  # a client clock far ahead
    assert created_at({"createdAt": "yesterday"}, T_US) == seen
    assert created_at({"createdAt": "2024-09-09T19:46:01"}, T_US) == seen  # no offset
    assert created_at({}, T_US) == seen


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"time_us": 1, "kind": "commit"}', "did"),
        ('{"did": "did:plc:a", "kind": "commit"}', "time_us"),
        ('{"did": "did:plc:a", "time_us": true, "kind": "commit"}', "time_us"),
        ('{"did": "did:plc:a", "time_us": 5}', "kind"),
        ('{"did": "did:plc:a", "time_us": 5, "kind": "commit", "commit": []}', "commit: not an object"),
    ],
)
def test_unreadable_envelopes_are_bad_events(raw, reason):
    with pytest.raises(BadEvent, match=reason):
        parse_event(raw)


def test_unreadable_commits_are_bad_events():
    no_text = post_event("did:plc:abc", "3l3q", "x")
    no_text["commit"]["record"]["text"] = 42
    with pytest.raises(BadEvent, match=r"record\.text"):
        _post(no_text)
    bad_rkey = post_event("did:plc:abc", "has/slash", "x")
    with pytest.raises(BadEvent, match="rkey"):
        parse_commit(parse_event(json.dumps(bad_rkey)))
    no_record = post_event("did:plc:abc", "3l3q", "x")
    del no_record["commit"]["record"]
    with pytest.raises(BadEvent, match="without a record"):
        parse_commit(parse_event(json.dumps(no_record)))


def test_a_post_the_schema_refuses_is_a_bad_event():
    long_did = "did:web:" + "a" * 300  # the at-uri is longer than a source id may be
    with pytest.raises(BadEvent, match=r"not a valid post: .*at most 200 characters"):
        _post(post_event(long_did, "3l3q", "hi"))


def test_identity_gives_the_handle():
    assert identity_handle(parse_event(json.dumps(identity_event("did:plc:a", "Ingrid.bsky.social")))) == (
        "ingrid.bsky.social"
    )
    assert identity_handle(parse_event(json.dumps(identity_event("did:plc:a", "handle.invalid")))) is None
    no_handle = identity_event("did:plc:a", "x")
    del no_handle["identity"]["handle"]
    assert identity_handle(parse_event(json.dumps(no_handle))) is None


def test_a_repost_carries_the_original_text_and_points_at_it():
    original = _post(post_event("did:plc:abc", "3l3q", "Delayed again @nordair", langs=["en"]))
    event = parse_event(json.dumps(repost_event("did:plc:rt", "3l3z", original.source_id)))
    repost = to_repost(event.did, parse_commit(event), event.time_us, None, original)
    assert repost.source_id == "at://did:plc:rt/app.bsky.feed.repost/3l3z"
    assert repost.kind == PostKind.REPOST and repost.referenced_id == original.source_id
    assert repost.text == original.text and repost.language == "en"
    assert repost.author.id == "did:plc:rt" and repost.url == original.url
