"""Meta page webhooks without a server: the signature check and feed changes -> Posts."""

import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import pytest

from schemas.records import PostKind, Source
from streams.sources.meta_payload import (
    MetaPayloadError,
    SeenIds,
    change_to_post,
    parse_delivery,
    verify_signature,
)
from tests.fakes.meta import delivery, encode, feed_change, sign

SECRET = "meta-app-secret-for-tests"
PAGE = "1001"
T0 = 1767175200  # 2025-12-31T10:00:00Z


def test_a_signature_over_the_raw_body_verifies_and_nothing_else_does():
    body = encode(delivery(PAGE, feed_change("status", post_id="1001_1", message="Nordair – køen er lang")))
    assert b"\\u00f8" in body, "Meta escapes non-ASCII characters in the body it signs"
    good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert verify_signature(body, good, SECRET)
    assert verify_signature(body, good.upper().replace("SHA256=", "sha256="), SECRET), "hex in either case"
    reencoded = orjson.dumps(orjson.loads(body))  # the same JSON, not the same bytes
    assert reencoded != body and not verify_signature(reencoded, good, SECRET)
    assert not verify_signature(body + b" ", good, SECRET)
    assert not verify_signature(body, sign(body, "another-secret"), SECRET)
    assert not verify_signature(body, None, SECRET)
    assert not verify_signature(body, "", SECRET)
    assert not verify_signature(body, good[len("sha256=") :], SECRET), "the prefix is required"
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not verify_signature(body, sha1, SECRET), "the old SHA-1 header is not enough"
    assert not verify_signature(body, "sha256=\u00e9\u00e9", SECRET), "non-ASCII in the header is no crash"
    assert not verify_signature(body, good, ""), "no secret configured: nothing verifies"


def test_a_status_add_becomes_an_original_post():
    change = feed_change(
        "status", post_id="1001_2002", message="Nordair lost my bag", from_id="77", from_name="Kari", created_time=T0
    )
    result = change_to_post(change)
    post = result.post
    assert not result.edited
    assert (post.source, post.source_id, post.id) == (Source.META, "1001_2002", "meta:1001_2002")
    assert (post.kind, post.referenced_id, post.text) == (PostKind.ORIGINAL, None, "Nordair lost my bag")
    assert (post.author.id, post.author.handle, post.author.display_name) == ("77", "Kari", "Kari")
    assert post.created_at == datetime(2025, 12, 31, 10, 0, tzinfo=UTC)
    assert post.url == "https://www.facebook.com/1001_2002"


def test_a_comment_is_a_reply_to_its_parent_or_its_post():
    top = change_to_post(
        feed_change("comment", post_id="1001_2002", comment_id="2002_3003", parent_id="1001_2002", message="Same here")
    ).post
    assert (top.source_id, top.kind, top.referenced_id) == ("2002_3003", PostKind.REPLY, "meta:1001_2002")
    nested = change_to_post(
        feed_change("comment", post_id="1001_2002", comment_id="2002_3004", parent_id="2002_3003", message="+1")
    ).post
    assert nested.referenced_id == "meta:2002_3003", "a reply to a comment refers to that comment"
    no_parent = change_to_post(feed_change("comment", post_id="1001_2002", comment_id="2002_3005", message="hi")).post
    assert no_parent.referenced_id == "meta:1001_2002"


def test_the_permalink_meta_gives_is_the_url():
    post_link = "https://www.facebook.com/nordair/posts/pfbid02abc"
    status = change_to_post(
        feed_change("status", post_id="1001_9", message="x", post={"id": "1001_9", "permalink_url": post_link})
    ).post
    assert status.url == post_link
    comment = change_to_post(
        feed_change(
            "comment",
            post_id="1001_9",
            comment_id="9_1",
            message="y",
            post={"id": "1001_9", "permalink_url": post_link},
        )
    ).post
    assert comment.url == "https://www.facebook.com/9_1", "a comment's url is not its post's"
    hostile = change_to_post(feed_change("status", post_id="1001_8", message="z", permalink_url="javascript:alert(1)"))
    assert hostile.post.url == "https://www.facebook.com/1001_8"


@pytest.mark.parametrize(
    ("created_time", "expected"),
    [
        (T0, datetime(2025, 12, 31, 10, 0, tzinfo=UTC)),
        (T0 * 1000 + 500, datetime(2025, 12, 31, 10, 0, 0, 500_000, tzinfo=UTC)),
        (str(T0), datetime(2025, 12, 31, 10, 0, tzinfo=UTC)),
        ("2025-12-31T11:00:00+0100", datetime(2025, 12, 31, 10, 0, tzinfo=UTC)),
        ("2025-12-31T10:00:00Z", datetime(2025, 12, 31, 10, 0, tzinfo=UTC)),
    ],
)
def test_created_time_in_the_shapes_meta_has_used(created_time, expected):
    post = change_to_post(feed_change("status", post_id="1001_1", message="m", created_time=created_time)).post
    assert post.created_at == expected


def test_without_created_time_the_entry_time_is_used():
    change = feed_change("status", post_id="1001_1", message="m")
    del change["value"]["created_time"]
    assert change_to_post(change, T0).post.created_at == datetime(2025, 12, 31, 10, 0, tzinfo=UTC)


def test_an_edit_is_the_same_post_with_the_new_text():
    result = change_to_post(feed_change("status", "edited", post_id="1001_2002", message="Nordair found my bag"))
    assert result.edited
    assert (result.post.id, result.post.text) == ("meta:1001_2002", "Nordair found my bag")


@pytest.mark.parametrize(
    "change",
    [
        feed_change("comment", "remove", post_id="1001_1", comment_id="1_2"),
        feed_change("status", "remove", post_id="1001_1"),
        feed_change("post", "hide", post_id="1001_1", message="m"),
        feed_change("reaction", "add", post_id="1001_1", reaction_type="like"),
        feed_change("like", "add", post_id="1001_1"),
        feed_change("status", "add", post_id="1001_1"),  # no message
        feed_change("photo", "add", post_id="1001_1", message="   "),
        feed_change("status", "add", post_id="1001_1", message="draft", published=0),
        {"field": "ratings", "value": {"item": "rating", "verb": "add", "review_text": "meh"}},
    ],
    ids=["comment-remove", "status-remove", "hide", "reaction", "like", "no-text", "blank", "unpublished", "ratings"],
)
def test_what_is_no_post(change):
    assert change_to_post(change) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("just a string", "not a JSON object"),
        ({"field": "feed"}, "without a value"),
        ({"field": "feed", "value": {"verb": "add"}}, "without item or verb"),
        (feed_change("status", post_id="", message="m"), "without post_id"),
        (feed_change("comment", post_id="1001_1", message="m"), "without comment_id"),
        (feed_change("status", post_id="1001_1", message=["m"]), "message is not a string"),
        (feed_change("status", post_id="1001_1", message="m", created_time="yesterday"), "created_time"),
        (feed_change("status", post_id="1001_1", message="m", created_time="2025-12-31T10:00:00"), "no UTC offset"),
        (feed_change("status", post_id="1001_1", message="x" * 30_000), "text: String should have at most"),
    ],
    ids=[
        "not-object",
        "no-value",
        "no-item",
        "no-post-id",
        "no-comment-id",
        "message-list",
        "bad-time",
        "naive",
        "long",
    ],
)
def test_what_cannot_be_read(change, reason):
    with pytest.raises(MetaPayloadError, match=reason) as caught:
        change_to_post(change)
    assert "x" * 100 not in str(caught.value), "the reason never carries the post's text"


def test_a_missing_from_keeps_the_post_with_an_unknown_author():
    post = change_to_post(feed_change("status", post_id="1001_1", message="m", from_id=None)).post
    assert (post.author.id, post.author.handle) == ("unknown", "unknown")
    nameless = change_to_post(feed_change("status", post_id="1001_1", message="m", from_id="55", from_name=None)).post
    assert (nameless.author.id, nameless.author.handle) == ("55", "55")


def test_a_delivery_keeps_what_it_can_and_rejects_only_the_bad_change():
    body = encode(
        {
            "object": "page",
            "entry": [
                {
                    "id": PAGE,
                    "time": T0,
                    "changes": [
                        feed_change("status", post_id="1001_1", message="Nordair again"),
                        feed_change("reaction", post_id="1001_1"),
                        feed_change("status", post_id="1001_2", message="m", created_time="yesterday"),
                    ],
                },
                {
                    "id": "2002",
                    "time": T0,
                    "changes": [feed_change("comment", post_id="2002_1", comment_id="1_1", message="ok")],
                },
                {"id": "3003", "time": T0, "messaging": [{"sender": {"id": "1"}}]},
            ],
        }
    )
    parsed = parse_delivery(body)
    assert [p.post.source_id for p in parsed.posts] == ["1001_1", "1_1"]
    assert parsed.ignored == 2, "the reaction and the Messenger entry"
    (rejected,) = parsed.rejected
    assert "created_time 'yesterday' is not a time" in rejected.reason
    alone = orjson.loads(rejected.payload)
    assert alone["object"] == "page" and alone["entry"][0]["id"] == PAGE and alone["entry"][0]["time"] == T0
    assert [c["value"]["post_id"] for c in alone["entry"][0]["changes"]] == ["1001_2"], "the bad change alone"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"object": "instagram", "entry": []}', "object is 'instagram', not 'page'"),
        (b'{"object": "page", "entry": {}}', "entry is not a list"),
    ],
)
def test_a_body_that_is_no_page_delivery_is_rejected_whole(body, reason):
    parsed = parse_delivery(body)
    assert parsed.posts == [] and parsed.ignored == 0
    (rejected,) = parsed.rejected
    assert rejected.payload == body and reason in rejected.reason


def test_bad_entries_are_rejected_one_by_one():
    body = orjson.dumps({"object": "page", "entry": ["x", {"changes": []}, {"id": PAGE, "changes": "no"}]})
    reasons = [r.reason for r in parse_delivery(body).rejected]
    assert reasons == ["meta: an entry without a page id"] * 2 + ["meta: changes is not a list"]


def test_seen_ids_forget_the_oldest_first():
    seen = SeenIds(capacity=2)
    seen.add("a")
    seen.add("b")
    seen.add("a")  # seen again: now the newest
    seen.add("c")
    assert ("a" in seen, "b" in seen, "c" in seen) == (True, False, True)
