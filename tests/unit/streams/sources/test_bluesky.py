from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from streams.sources.bluesky import JetstreamSource, subscribe_url, where
from streams.sources.bluesky_reader import JetstreamReader


def test_subscribe_url_names_collections_size_and_cursor():
    url = subscribe_url(
        "wss://jetstream2.us-east.bsky.network/subscribe", ["app.bsky.feed.post", "app.bsky.feed.repost"], 1725911162
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "jetstream2.us-east.bsky.network", "/subscribe")
    assert parse_qs(parts.query) == {
        "wantedCollections": ["app.bsky.feed.post", "app.bsky.feed.repost"],
        "maxMessageSizeBytes": ["1048576"],
        "cursor": ["1725911162"],
    }


def test_subscribe_url_without_cursor_is_the_live_tail_and_keeps_other_parameters():
    url = subscribe_url("ws://127.0.0.1:6008/subscribe?cursor=5&compress=false", ["app.bsky.feed.post"], None)
    query = parse_qs(urlsplit(url).query)
    assert "cursor" not in query and query["compress"] == ["false"]


def test_where_leaves_out_query_and_user_info():
    assert where("wss://user:secret@js.example:8443/subscribe?token=abc") == "js.example:8443/subscribe"


def _source() -> JetstreamSource:
    from schemas.watch import WatchConfig
    from streams.core.matching import Matcher

    watch = WatchConfig.model_validate({"brands": [{"id": "nordair", "name": "Nordair"}]})
    return JetstreamSource("ws://127.0.0.1:1/subscribe", JetstreamReader(Matcher(watch), 5_000_000))


def _refused(status: int) -> InvalidStatus:
    return InvalidStatus(Response(status, "refused", Headers()))


def test_reconnect_waits_follow_the_kind_of_failure():
    source = _source()
    assert [source._after_error(ConnectionRefusedError("refused"))[0] for _ in range(8)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]
    assert source._after_error(_refused(503)) == (5.0, "HTTP 503")
    assert source._after_error(_refused(503))[0] == 10.0
    assert source._after_error(_refused(429)) == (60.0, "HTTP 429")
    # a connection that delivered something starts every schedule over
    assert source._after_close(delivered=True) == (1.0, "connection closed")
    assert source._after_error(_refused(503))[0] == 5.0
    # one that closed before delivering anything keeps backing off: never a tight loop
    assert source._after_close(delivered=False)[0] == 2.0


def test_collections_follow_the_repost_choice():
    assert _source().collections == ["app.bsky.feed.post", "app.bsky.feed.repost"]
