"""Mastodon status -> Post: HTML to plain text, reblogs, replies, quotes, missing and bad fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.records import PostKind, Source
from streams.sources.mastodon_status import (
    BadStatus,
    RecentIds,
    html_to_text,
    id_order,
    newest,
    qualified_acct,
    status_text,
    status_to_post,
)
from tests.fakes.mastodon import make_status

HASHTAG = '<a href="https://mastodon.example/tags/nordair" class="mention hashtag" rel="tag">#<span>nordair</span></a>'


def test_html_is_plain_text_with_entities_unescaped():
    html = f"<p>Delayed again {HASHTAG} &amp; no refund</p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert html_to_text(html) == "Delayed again #nordair & no refund\n\n<script>alert(1)</script>"


def test_html_markup_is_dropped_not_kept():
    html = '<p>hi<script>steal()</script><style>p{}</style> <b onclick="x()">there</b><br/>next line</p>'
    assert html_to_text(html) == "hi there\nnext line"


def test_link_text_keeps_the_whole_url_mastodon_hides_in_invisible_spans():
    html = (
        '<p><a href="https://example.com/a/very/long/path"><span class="invisible">https://</span>'
        '<span class="ellipsis">example.com/a/very</span><span class="invisible">/long/path</span></a></p>'
    )
    assert html_to_text(html) == "https://example.com/a/very/long/path"


def test_mentions_become_full_addresses():
    html = (
        '<p><span class="h-card"><a href="https://journa.host/@ingrid_news" class="u-url mention">'
        "@<span>ingrid_news</span></a></span> look at @nordair</p>"
    )
    mentions = {"https://journa.host/@ingrid_news": "ingrid_news@journa.host"}
    assert html_to_text(html, mentions) == "@ingrid_news@journa.host look at @nordair"
    assert html_to_text(html) == "@ingrid_news look at @nordair"  # unknown link: its text


def test_quote_fallback_paragraph_is_dropped_and_controls_removed():
    html = (
        '<p class="quote-inline">RE: <a href="https://m.example/@a/1">https://m.example/@a/1</a></p><p>so\x00 true</p>'
    )
    assert html_to_text(html) == "so true"


def test_unbalanced_html_does_not_swallow_the_rest():
    assert html_to_text("<p><span>one</p><p>two</span></p>") == "one\n\ntwo"


def test_spoiler_text_comes_first():
    status = {"spoiler_text": "airline rant", "content": "<p>@nordair lost my bag</p>"}
    assert status_text(status) == "airline rant\n\n@nordair lost my bag"


def test_original_status_from_the_streaming_docs():
    status = make_status("1101", f"<p>Stuck at the gate, {HASHTAG}</p>", tags=("nordair",), followers=2520)
    status["favourites_count"], status["reblogs_count"], status["replies_count"] = 3, 2, 1
    post = status_to_post(status, "mastodon.example")
    assert post.source is Source.MASTODON and post.id == "mastodon:1101"
    assert post.text == "Stuck at the gate, #nordair"
    assert post.kind is PostKind.ORIGINAL and post.referenced_id is None
    assert post.author.id == "1001" and post.author.handle == "ann@mastodon.example"
    assert post.author.display_name == "Ann" and post.author.followers == 2520
    assert (post.engagement.likes, post.engagement.reposts, post.engagement.replies) == (3, 2, 1)
    assert post.language == "en" and post.url == "https://mastodon.example/@ann/1101"
    assert post.created_at.tzinfo is not None and post.created_at.utcoffset().total_seconds() == 0


def test_remote_author_keeps_its_own_domain():
    post = status_to_post(make_status("5", "<p>hi</p>", username="bob", domain="journa.host"), "mastodon.example")
    assert post.author.handle == "bob@journa.host"


def test_reblog_is_a_repost_of_the_reblogged_status_by_the_reblogger():
    original = make_status("900", "<p>Nordair lost my bag</p>", username="cat", account_id="77", language="nb")
    wrapper = make_status("1200", "", username="dan", account_id="88", reblog=original)
    post = status_to_post(wrapper, "m.example")
    assert post.kind is PostKind.REPOST and post.referenced_id == "900"
    assert post.source_id == "1200" and post.author.id == "88" and post.author.handle == "dan@m.example"
    assert post.text == "Nordair lost my bag" and post.language == "nb"
    assert post.url == "https://mastodon.example/@cat/900"  # the wrapper has none: the reblogged status's


def test_reply_and_quote():
    reply = status_to_post(make_status("1300", "<p>same here</p>", in_reply_to_id="1101"))
    assert reply.kind is PostKind.REPLY and reply.referenced_id == "1101"
    quote = make_status("1400", "<p>look</p>", in_reply_to_id="1101")
    quote["quote"] = {"state": "accepted", "quoted_status": make_status("1000", "<p>q</p>")}
    assert (status_to_post(quote).kind, status_to_post(quote).referenced_id) == (PostKind.QUOTE, "1000")
    quote["quote"] = {"state": "accepted", "quoted_status_id": "999"}
    assert status_to_post(quote).referenced_id == "999"


def test_missing_optional_fields_have_defaults():
    status = make_status("7", "<p>x</p>", followers=None, language=None)
    for key in ("favourites_count", "reblogs_count", "replies_count", "url", "uri", "mentions", "tags", "content"):
        status.pop(key)
    post = status_to_post(status)
    assert post.author.followers == 0 and post.language is None and post.url is None and post.text == ""


def test_absurd_counts_are_clamped_and_bad_values_dropped():
    status = make_status("8", "<p>x</p>", followers=-1, language="x" * 40)
    status["favourites_count"] = 10**30
    status["url"] = "javascript:alert(1)"
    status["uri"] = "tag:example.com,2026:objectId=1"
    post = status_to_post(status)
    assert post.author.followers == 0 and post.language is None and post.url is None
    assert post.engagement.likes == 10_000_000_000


def test_rest_status_with_parsed_datetime_is_accepted():
    status = make_status("9", "<p>x</p>")
    status["created_at"] = datetime(2026, 12, 7, 10, 42, tzinfo=UTC)
    assert status_to_post(status).created_at == datetime(2026, 12, 7, 10, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s.pop("id"), "status has no id"),
        (lambda s: s.pop("account"), "status has no account"),
        (lambda s: s["account"].pop("id"), "account has no id"),
        (lambda s: s.pop("created_at"), "status has no created_at"),
        (lambda s: s.update(created_at="yesterday"), "created_at is not a timestamp"),
        (lambda s: s.update(created_at="2026-12-07T10:42:00"), "created_at has no UTC offset"),
        (lambda s: s.update(reblog={"content": "x"}), "reblogged status has no id"),
        (lambda s: s.update(content="<p>" + "a" * 30_000 + "</p>"), "text"),
    ],
)
def test_statuses_that_cannot_be_posts(change, reason):
    status = make_status("10", "<p>x</p>")
    change(status)
    with pytest.raises(BadStatus, match=reason):
        status_to_post(status)


def test_not_an_object():
    with pytest.raises(BadStatus, match="list"):
        status_to_post([1, 2])


def test_ids_compare_as_numbers():
    assert max(["109", "1000", "99"], key=id_order) == "1000"
    assert newest("5", None) == "5" and newest(None, None) is None and newest("12", "9") == "12"


def test_qualified_acct():
    assert qualified_acct("alice", "mastodon.social") == "alice@mastodon.social"
    assert qualified_acct("@bob@journa.host", "mastodon.social") == "bob@journa.host"
    assert qualified_acct("alice", "") == "alice"


def test_recent_ids_are_bounded():
    recent = RecentIds(capacity=2)
    assert recent.add("1") and not recent.add("1")
    recent.add("2")
    recent.add("3")
    assert "1" not in recent and len(recent) == 2
    assert recent.add("1")
