"""Mastodon as a source (`lytte ingest mastodon`): the hashtag streams of the watched hashtags and the public
stream, filtered here for the watched names, aliases, handles and people, through Mastodon.py.

Mastodon's streams have no cursor: a status posted while a stream is down is never sent on it. So every
(re)connection fills the gap over REST: once the stream's HTTP connection is open (so nothing after it can be
lost), the channel's timeline (`/api/v1/timelines/tag/:tag` or `/timelines/public`) is read with `since_id` = the
newest id the channel had seen, page by page (`max_id`) down to it; then the stream is read. A status that both
the backfill and the stream (or a hashtag stream and the public one) deliver is sent once: the source keeps the
last ids it saw (`RecentIds`), and the worker counts a post once by its id anyway. The newest id seen is the
source's cursor in Redis, saved only after the posts before it are delivered to Kafka, so that a restart
backfills from there.

Each stream runs in a thread of its own with its own reconnect loop; Mastodon.py's `reconnect_async` is not
used: it retries every 5 s whatever the error, with no hook to fill the gap and nothing said about why. Here:
network errors and a stream the server ends back off exponentially from 1 s to 60 s, HTTP errors from 5 s to
320 s, 429 from 60 s to 960 s; a connection that gave statuses or lasted 10 s resets the schedule. The stream
is read with a 45 s read timeout (the server writes a `:thump` comment every 15 s or so; each is a heartbeat).

Mastodon.py finds the streaming host, opens the authenticated connection and reads the REST timelines; lytte
reads the stream's bytes itself (`mastodon_sse`): Mastodon.py's reader takes one byte per call and builds a typed
`Status` of every event, about 5.7 ms of CPU per status against 0.09 ms here (2,000 statuses from the test fake,
measured with the test fake), and ends the connection on the first bad event.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping

from schemas.source_health import SourceState
from streams.sources.backoff import Backoff
from streams.sources.mastodon_rules import (
    Channel,
    channels_for,
    classify,
    describe,
    instance_host,
    overall_state,
    snowflake_at,
    wanted_filter,
    watched_hashtags,
)
from streams.sources.mastodon_sse import SseEvent, read_events
from streams.sources.mastodon_status import BadStatus, RecentIds, id_order, newest, status_to_post

log = logging.getLogger(__name__)

NAME = "mastodon"
#: Mastodon's largest timeline page.
PAGE_LIMIT = 40
BACKFILL_PAGES = 25
READ_TIMEOUT_S = 45.0
REQUEST_TIMEOUT_S = 10.0
CURSOR_SAVE_S = 5.0
#: A stream connection that lasted this long was a good one (its end starts the backoff afresh).
STABLE_AFTER_S = 10.0
#: How far before a connection opened its lower bound is put (a status created a little earlier may arrive later).
MARK_MARGIN_S = 120.0
CURSOR_FLUSH_LIMIT_S = 10.0


def add_cli(ingest) -> None:
    """Registers `lytte ingest mastodon` on the ingest sub-parsers. Provider libraries are imported when it runs,
    so that the CLI starts fast."""
    p = ingest.add_parser(
        "mastodon", help="Mastodon: the watched hashtags' streams and the public stream, gaps filled over REST"
    )
    p.add_argument("--config", help="the watch configuration (default: LYTTE_WATCH_CONFIG)")
    p.add_argument("--no-public", action="store_true", help="only the hashtag streams, not the public stream")
    p.add_argument(
        "--backfill-pages",
        type=int,
        default=BACKFILL_PAGES,
        help=f"at most this many pages of {PAGE_LIMIT} statuses per stream to fill a gap (default {BACKFILL_PAGES})",
    )
    p.set_defaults(func=_start)


def _start(args) -> None:
    from streams.core.matching import Matcher
    from streams.sources.runtime import listen_targets, run_source
    from streams.usage import UsageError, load_settings, load_watch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    watch = load_watch(settings, args.config)
    base_url = settings.mastodon_base_url
    token = settings.secret("mastodon_access_token")
    if not base_url or not base_url.startswith(("https://", "http://")):
        raise UsageError("ingest mastodon: set LYTTE_MASTODON_BASE_URL to the instance, e.g. https://mastodon.social")
    if not token:
        raise UsageError(
            "ingest mastodon: set LYTTE_MASTODON_ACCESS_TOKEN (or LYTTE_MASTODON_ACCESS_TOKEN_FILE): a user token "
            "with the read:statuses scope"
        )
    if args.backfill_pages < 1:
        raise UsageError("ingest mastodon: --backfill-pages must be at least 1")
    tags = watched_hashtags(listen_targets(watch))
    if not tags and args.no_public:
        raise UsageError("ingest mastodon: no hashtags in the watch configuration and --no-public: nothing to read")
    matcher = Matcher(watch)
    print(f"mastodon: {instance_host(base_url)}, hashtags {', '.join(tags) or '(none)'}", flush=True)

    def body(runtime) -> None:
        MastodonSource(
            runtime,
            client=mastodon_client_factory(base_url, token),
            channels=channels_for(tags, public=not args.no_public),
            wanted=wanted_filter(matcher, tags),
            local_domain=instance_host(base_url),
            backfill_pages=args.backfill_pages,
            secrets=(token,),
        ).run()

    run_source(NAME, settings, body)


class _Stop(Exception):
    """The source is stopping: leave the stream."""


# -- the source ----------------------------------------------------------------------------------------------


def mastodon_client_factory(base_url: str, token: str) -> Callable[[], object]:
    def make():
        from mastodon import Mastodon

        return Mastodon(
            api_base_url=base_url,
            access_token=token,
            ratelimit_method="throw",  # "wait" sleeps where a stop cannot wake it; the loop here backs off
            request_timeout=REQUEST_TIMEOUT_S,
            version_check_mode="none",
            user_agent="lytte",
        )

    return make


def _body_chunks(response) -> Iterator[bytes]:
    """The stream's bytes as they arrive (a chunk at a time; Mastodon.py reads one byte per call)."""
    raw = response.raw
    if raw.chunked and raw.supports_chunked_reads():
        yield from raw.read_chunked(decode_content=True)
        return
    while True:
        data = raw.read1(65536, decode_content=True)
        if not data:
            return
        yield data


class MastodonSource:
    def __init__(
        self,
        runtime,
        *,
        client: Callable[[], object],
        channels: list[Channel],
        wanted: Callable[[object, Mapping], bool],
        local_domain: str = "",
        backfill_pages: int = BACKFILL_PAGES,
        read_timeout_s: float = READ_TIMEOUT_S,
        secrets: tuple[str, ...] = (),
        recent: int = 50_000,
    ) -> None:
        self.runtime = runtime
        self.make_client = client
        self.channels = channels
        self.wanted = wanted
        self.local_domain = local_domain
        self.backfill_pages = backfill_pages
        self.read_timeout_s = read_timeout_s
        self.secrets = secrets
        self._recent = RecentIds(recent)
        self._lock = threading.Lock()  # the dedup set, the ids and every send: one stream at a time
        self._newest: str | None = None
        self._saved: str | None = None
        self._closed = False
        self.duplicates = 0
        self._domain_known = False

    # -- life cycle -------------------------------------------------------------------------------------------

    def run(self) -> None:
        cursor = self.runtime.cursor
        if cursor is not None and not cursor.isdigit():
            log.warning("%s: ignoring a resume cursor that is not a status id", NAME)
            cursor = None
        if cursor is None:
            log.info("%s: no resume cursor: starting from the live streams", NAME)
        self._newest = self._saved = cursor
        for ch in self.channels:
            ch.mark = cursor
        self.runtime.set_state("connecting")
        threads = [
            threading.Thread(target=self._channel_loop, args=(ch,), name=f"mastodon-{ch.name}", daemon=True)
            for ch in self.channels
        ]
        for t in threads:
            t.start()
        while not self.runtime.wait(CURSOR_SAVE_S):
            self.save_cursor()
        for ch in self.channels:
            self._interrupt(ch)
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 2)
        with self._lock:
            self._closed = True  # a stream thread still in a request sends nothing after this
        self.save_cursor()

    def save_cursor(self) -> None:
        """Save the newest id seen, once every post sent before it is delivered (a crash then never leaves the
        cursor past a post Kafka did not get)."""
        with self._lock:  # every post of a status up to `value` has been handed to the producer
            value = self._newest
        if value is None or value == self._saved:
            return
        try:  # outside the lock: the streams go on being read while Kafka catches up
            self.runtime.producer.flush(CURSOR_FLUSH_LIMIT_S)
        except Exception as exc:  # Kafka away: keep the old cursor, try again later
            log.warning("%s: posts not yet delivered, cursor kept at %s (%s)", NAME, self._saved, exc)
            return
        if self.runtime.save_cursor(value):
            self._saved = value

    def _interrupt(self, ch: Channel) -> None:
        """Wake a stream thread blocked reading its connection."""
        response = ch.response
        if response is None:
            return
        try:
            response.raw.shutdown()
        except Exception:
            with contextlib.suppress(Exception):
                response.close()

    # -- one stream -------------------------------------------------------------------------------------------

    def _channel_loop(self, ch: Channel) -> None:
        schedules = {
            "network": Backoff.exponential_from(1.0, 60.0),
            "http": Backoff.exponential_from(5.0, 320.0),
            "rate_limited": Backoff.exponential_from(60.0, 960.0),
        }
        api = None
        while not self.runtime.stopping:
            listener = None
            try:
                api = api or self.make_client()
                self._learn_domain(api)
                listener = self._listener(ch, api)
                if ch.tag is not None:
                    api.stream_hashtag(ch.tag, listener, timeout=self.read_timeout_s)
                else:
                    api.stream_public(listener, timeout=self.read_timeout_s)
                kind, why = "network", "the server ended the stream"
            except _Stop:
                break
            except Exception as exc:
                if self.runtime.stopping:
                    break
                kind, why = classify(exc), describe(exc, self.secrets)
            finally:
                ch.response = None
            if listener is not None and listener.healthy():
                for schedule in schedules.values():
                    schedule.reset()
            wait = schedules[kind].next()
            log.warning("%s: %s: %s; connecting again in %.0f s", NAME, ch.name, why, wait)
            state: SourceState = "rate_limited" if kind == "rate_limited" else "backoff"
            self._set_state(ch, state, f"{ch.name}: {why}; again in {wait:.0f} s")
            if self.runtime.wait(wait):
                break

    def _learn_domain(self, api) -> None:
        """The instance's own domain (`/api/v2/instance` `domain`, else v1 `uri`) for local accounts' addresses:
        it can differ from the host the API is served from."""
        if self._domain_known:
            return
        answered = False
        for fetch, key in (("instance_v2", "domain"), ("instance_v1", "uri")):
            try:
                value = getattr(api, fetch)().get(key)
            except Exception:
                continue
            answered = True
            if isinstance(value, str) and value.strip() and "/" not in value:
                self.local_domain = value.strip().lower()
                break
        self._domain_known = answered  # no answer at all: ask again on the next connection

    def _listener(self, ch: Channel, api):
        from mastodon.streaming import StreamListener

        source = self

        class Listener(StreamListener):
            """Mastodon.py opens the connection (streaming host discovery, the token); lytte reads it."""

            opened_at: float | None = None
            updates = 0

            def healthy(self) -> bool:
                """The connection gave statuses or lasted: the next failure starts the backoff afresh (a server
                that accepts and drops at once is not retried every second)."""
                lasted = self.opened_at is not None and time.monotonic() - self.opened_at >= STABLE_AFTER_S
                return self.updates > 0 or lasted

            def handle_stream(self, response) -> None:
                self.opened_at = time.monotonic()
                ch.response = response
                source._connected(ch, api)
                for event in read_events(_body_chunks(response)):
                    if source.runtime.stopping:
                        raise _Stop
                    self.updates += event.event == "update"
                    source._event(ch, event)

        return Listener()

    def _connected(self, ch: Channel, api) -> None:
        if self.runtime.stopping:
            raise _Stop
        ch.connections += 1
        if ch.connections > 1:
            self.runtime.reconnected()
        since = ch.since()
        with self._lock:
            ch.mark = newest(self._newest, snowflake_at(time.time() - MARK_MARGIN_S))
        self._set_state(ch, "connected", "")
        log.info("%s: %s: connected%s", NAME, ch.name, f", filling the gap after {since}" if since else "")
        if since is not None:  # None: the first connection of a source with no cursor, nothing to resume
            self._backfill(ch, api, since)

    # -- the gap ----------------------------------------------------------------------------------------------

    def _backfill(self, ch: Channel, api, since: str) -> None:
        """Every status of the channel's timeline newer than `since`, newest pages first (`max_id` walking down
        to `since_id`), sent oldest first; at most `backfill_pages` pages (a gap is counted if cut short). A
        failure counts a gap and the stream goes on: a live stream matters more than a perfect past."""
        from mastodon.errors import MastodonNotFoundError

        statuses: list = []
        page: list = []
        max_id = None
        try:
            for _ in range(self.backfill_pages):
                if self.runtime.stopping:
                    raise _Stop
                if ch.tag is not None:
                    page = api.timeline_hashtag(ch.tag, since_id=since, max_id=max_id, limit=PAGE_LIMIT)
                else:
                    page = api.timeline_public(since_id=since, max_id=max_id, limit=PAGE_LIMIT)
                ids = [str(s["id"]) for s in page if isinstance(s, Mapping) and s.get("id") is not None]
                if not ids:
                    break
                statuses.extend(page)
                max_id = min(ids, key=id_order)
            else:
                # A short last page usually means the end (Mastodon may drop filtered statuses from a page, so
                # the empty page that proves it is fetched when there is room for it).
                if len(page) >= PAGE_LIMIT:
                    self.runtime.gap(f"{ch.name}: gap fill stopped after {self.backfill_pages} pages")
        except MastodonNotFoundError:
            pass  # a hashtag nobody on the instance has used yet: nothing to fill
        except _Stop:
            raise
        except Exception as exc:
            self.runtime.gap(f"{ch.name}: gap fill failed: {describe(exc, self.secrets)}")
        sent = 0
        for status in sorted(statuses, key=lambda s: id_order(str(s.get("id", "")))):
            sent += self.handle_status(ch, status)
        if statuses:
            log.info(
                "%s: %s: %d statuses after %s fetched over REST, %d sent", NAME, ch.name, len(statuses), since, sent
            )

    # -- events and statuses ----------------------------------------------------------------------------------

    def _event(self, ch: Channel, event: SseEvent) -> None:
        if event.comment is not None or event.event != "update":
            self.runtime.heartbeat()  # `:thump`, deletes, edits (the id was sent already), announcements
            return
        try:
            status = json.loads(event.data)
        except ValueError as exc:
            self._reject(event.data, f"mastodon {ch.name}: update event is not JSON ({exc})")
            return
        self.handle_status(ch, status, raw=event.data)

    def handle_status(self, ch: Channel, status: object, raw: str | None = None) -> bool:
        """Send one status (from a stream or a backfill) unless it was sent already or, on the public stream, is
        about nothing watched; True if it was sent."""
        status_id = status.get("id") if isinstance(status, Mapping) else None
        status_id = str(status_id) if isinstance(status_id, str | int) and not isinstance(status_id, bool) else None
        try:
            post = status_to_post(status, self.local_domain)
        except BadStatus as exc:
            self._reject(raw if raw is not None else _dump(status), f"mastodon {ch.name}: {exc}")
            return False
        with self._lock:
            if status_id is not None and status_id.isdigit():
                ch.newest = newest(ch.newest, status_id)
                self._newest = newest(self._newest, status_id)
            if not self._recent.add(post.source_id):
                self.duplicates += 1
                self.runtime.heartbeat()
                return False
            if ch.public and not self.wanted(post, status):
                self.runtime.unmatched()
                return False
            if self._closed:
                return False
            self.runtime.post(post)
            return True

    def _reject(self, payload: str, reason: str) -> None:
        with self._lock:
            if not self._closed:
                self.runtime.reject(payload, reason)

    def _set_state(self, ch: Channel, state: SourceState, detail: str) -> None:
        with self._lock:
            ch.state, ch.detail = state, detail
            overall, why = overall_state(self.channels)
        self.runtime.set_state(overall, why)


def _dump(status: object) -> str:
    try:
        return json.dumps(status, default=str)
    except (TypeError, ValueError):
        return repr(status)[:10_000]
