"""X stream lines into Posts: the four kinds, missing includes, long posts, what goes to the deadletter topic."""

import json
from datetime import UTC, datetime

import pytest

from schemas.records import PostKind, Source
from streams.sources.x_payload import PayloadError, is_disconnect, read_line, stream_problem, to_post
from tests.fakes.x import OPERATIONAL_DISCONNECT, post_payload, user

ADA = user("11", "ada", "Ada Lovelace", followers=1200, verified=True)
BOB = user("22", "bob", "Bob", followers=5)
ORIGINAL = {"id": "100", "text": "Nordair lost my bag at the gate, three hours now", "author": BOB}


def test_an_original_post_keeps_author_followers_language_url_time_and_rule_tags():
    payload = post_payload(
        "1900",
        "Loving the new Nordair lounge",
        ADA,
        metrics={"like_count": 4, "retweet_count": 2},
        tags=("brand:nordair",),
    )
    post = to_post(payload)
    assert post.source is Source.X and post.id == "x:1900"
    assert post.kind is PostKind.ORIGINAL and post.referenced_id is None
    assert (post.author.id, post.author.handle, post.author.display_name) == ("11", "ada", "Ada Lovelace")
    assert post.author.followers == 1200 and post.author.verified is True
    assert post.language == "en"
    assert post.created_at == datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    assert post.url == "https://x.com/ada/status/1900"
    assert (post.engagement.likes, post.engagement.reposts) == (4, 2)
    assert post.matching_rules == ("brand:nordair",)


def test_a_retweet_is_a_repost_of_the_original_with_its_whole_text():
    payload = post_payload(
        "1901", "RT @bob: Nordair lost my bag at the gate, thr", ADA, kind="retweeted", referenced=ORIGINAL
    )
    post = to_post(payload)
    assert post.kind is PostKind.REPOST and post.referenced_id == "100"
    assert post.text == "RT @bob: Nordair lost my bag at the gate, three hours now"
    assert post.author.handle == "ada"


def test_a_retweet_without_the_original_in_includes_keeps_its_own_text():
    payload = post_payload("1901", "RT @bob: Nordair lost my bag", ADA, kind="retweeted", referenced=ORIGINAL)
    del payload["includes"]["tweets"]
    post = to_post(payload)
    assert post.kind is PostKind.REPOST and post.text == "RT @bob: Nordair lost my bag"


def test_a_reply_and_a_quote_reference_the_post_they_answer():
    reply = to_post(post_payload("1902", "@bob so sorry, DM us", ADA, kind="replied_to", referenced=ORIGINAL))
    quote = to_post(post_payload("1903", "this is Nordair every week", ADA, kind="quoted", referenced=ORIGINAL))
    assert (reply.kind, reply.referenced_id) == (PostKind.REPLY, "100")
    assert (quote.kind, quote.referenced_id) == (PostKind.QUOTE, "100")
    assert quote.text == "this is Nordair every week"


def test_a_reply_that_quotes_counts_as_a_quote():
    payload = post_payload("1904", "look at this", ADA, kind="quoted", referenced=ORIGINAL)
    payload["data"]["referenced_tweets"].append({"type": "replied_to", "id": "99"})
    post = to_post(payload)
    assert (post.kind, post.referenced_id) == (PostKind.QUOTE, "100")


def test_missing_includes_leave_the_author_known_by_id_only():
    received = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    payload = post_payload("1905", "Nordair again", ADA, with_includes=False, tags=())
    del payload["data"]["created_at"]
    post = to_post(payload, received)
    assert (post.author.id, post.author.handle, post.author.followers) == ("11", "11", 0)
    assert post.url == "https://x.com/i/web/status/1905"
    assert post.created_at == received
    assert post.matching_rules == ()


def test_a_long_post_uses_the_note_tweet_text():
    payload = post_payload("1906", "Nordair " + "a" * 270 + "…", ADA)
    payload["data"]["note_tweet"] = {"text": "Nordair " + "a" * 600 + " the end"}
    post = to_post(payload)
    assert post.text.endswith("the end") and len(post.text) == 8 + 600 + 8


def test_undetermined_language_is_none():
    post = to_post(post_payload("1907", "🙂", ADA, lang="und"))
    assert post.language is None


def test_partial_errors_beside_data_do_not_stop_the_post():
    payload = post_payload("1908", "quote of a deleted post", ADA, kind="quoted", referenced={"id": "55"})
    payload["errors"] = [
        {"resource_id": "55", "title": "Not Found Error", "detail": "Could not find tweet with id: [55]."}
    ]
    assert read_line(json.dumps(payload)).post.referenced_id == "55"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"meta": {}}', "neither data nor errors"),
        (b'{"data": "x"}', "data is not an object"),
        (b'{"data": {"id": "1", "text": "hi"}}', "data without author_id"),
        (b'{"data": {"author_id": "1"}}', "data without id, text"),
        (b'{"data": {"id": "1", "text": "hi", "author_id": "2", "created_at": "yesterday"}}', "created_at is not"),
        (
            b'{"data": {"id": "1", "text": "hi", "author_id": "2", "created_at": "2026-12-07T03:30:00"}}',
            "no UTC offset",
        ),
    ],
)
def test_what_cannot_be_a_post_is_a_payload_error_with_a_reason(raw, reason):
    with pytest.raises(PayloadError, match=reason):
        read_line(raw)


def test_a_post_out_of_the_schemas_bounds_is_a_payload_error_without_its_text():
    payload = post_payload("1909", "secret words " * 3000, ADA)
    with pytest.raises(PayloadError, match=r"^not a valid post: text: ") as caught:
        read_line(json.dumps(payload).encode())
    assert "secret words" not in str(caught.value)


def test_an_error_only_line_is_a_message_about_the_stream():
    message = read_line(json.dumps(OPERATIONAL_DISCONNECT).encode())
    assert message.post is None and is_disconnect(message.errors)
    assert stream_problem(message.errors) == (
        "operational-disconnect (UpstreamOperationalDisconnect): "
        "This stream has been disconnected upstream for operational reasons."
    )
    other = read_line(b'{"errors": [{"title": "Invalid Request", "detail": "One or more parameters are invalid."}]}')
    assert not is_disconnect(other.errors)
