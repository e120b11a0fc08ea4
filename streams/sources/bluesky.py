"""Bluesky through Jetstream as a source (`lytte ingest bluesky`).

Jetstream (Bluesky's JSON view of the atproto firehose) sends every post of the network over one websocket:
we subscribe to `app.bsky.feed.post` (and `app.bsky.feed.repost`, for reposts of posts we kept), match on our
side (`bluesky_reader`) and send the matching ones to posts.raw.

Resuming without a gap: Jetstream's cursor is a time in microseconds (`time_us`) and it replays from any
cursor within about 36 hours. About once a second the source flushes its posts to Kafka and then saves the
high-water mark with the ids of the posts it sent in the last few seconds (`ResumePoint`); a reconnect or a
restart subscribes from that mark rewound by a few seconds (for events another instance orders differently)
and drops the repeats by id. A kill -9 loses at most the last second's cursor, never a post: those events come
again and the worker counts a post once by its id.

The websocket is the `websockets` library's synchronous client: Jetstream is plain JSON over a websocket, and
the library keeps the connection honest (pings every 20 s, closed after 20 s without a pong, bounded message
size and handshake time). The atproto SDK's firehose client speaks the CBOR `subscribeRepos` stream instead.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from streams.sources.backoff import Backoff

if TYPE_CHECKING:  # the CLI imports this module at start: what it needs to run comes when it runs
    from streams.sources.bluesky_reader import JetstreamReader
    from streams.sources.bluesky_state import ResumePoint
    from streams.sources.runtime import SourceRuntime

log = logging.getLogger(__name__)

NAME = "bluesky"
#: Jetstream keeps about 36 hours to replay from; a cursor older than that resumes with a gap
REPLAY_WINDOW_US = 36 * 3600 * 1_000_000
#: the largest message we take; Jetstream drops larger events for us (`maxMessageSizeBytes`), so one large
#: event cannot close the connection at the same place on every reconnect
MAX_MESSAGE_BYTES = 1 << 20
#: how long a flush of the posts before saving the cursor may take (Kafka away: the cursor waits)
FLUSH_LIMIT_S = 10.0


def subscribe_url(base: str, collections: list[str], cursor: int | None) -> str:
    """The subscription URL: the configured instance, the collections, the size cap and the cursor.

    Scenario: ("wss://jetstream2.us-east.bsky.network/subscribe", ["app.bsky.feed.post"], 1725911162329308) ->
    "wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post&maxMessageSizeBytes=
    1048576&cursor=1725911162329308"; cursor None: no cursor (the live tail)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("wantedCollections", "cursor")]
    query += [("wantedCollections", c) for c in collections]
    if not any(k == "maxMessageSizeBytes" for k, _ in query):
        query.append(("maxMessageSizeBytes", str(MAX_MESSAGE_BYTES)))
    if cursor is not None:
        query.append(("cursor", str(cursor)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def where(url: str) -> str:
    """The host and path of a URL, for logs (a query or user info could carry a token)."""
    parts = urlsplit(url)
    return f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


class JetstreamSource:
    def __init__(
        self,
        url: str,
        reader: JetstreamReader,
        *,
        cursor_save_s: float = 1.0,
        network_backoff: Backoff | None = None,
        http_backoff: Backoff | None = None,
        rate_limit_backoff: Backoff | None = None,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
        open_timeout_s: float = 10.0,
        poll_s: float = 0.5,
    ) -> None:
        self.url = url
        self.reader = reader
        self.cursor_save_s = cursor_save_s
        # Jetstream documents no reconnect policy; these follow X's schedules in spirit (network errors
        # quickly at first, HTTP errors and 429 slowly), each capped, never a tight loop
        self.network_backoff = network_backoff or Backoff.exponential_from(1.0, 60.0)
        self.http_backoff = http_backoff or Backoff.exponential_from(5.0, 320.0)
        self.rate_limit_backoff = rate_limit_backoff or Backoff.exponential_from(60.0, 960.0)
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.open_timeout_s = open_timeout_s
        self.poll_s = poll_s
        from streams.sources.bluesky_events import POST_COLLECTION, REPOST_COLLECTION

        self.collections = [POST_COLLECTION] + ([REPOST_COLLECTION] if reader.reposts else [])
        self._saved: ResumePoint | None = None
        self._last_save = 0.0

    # -- life cycle -------------------------------------------------------------------------------------

    def run(self, runtime: SourceRuntime) -> None:
        from streams.sources.runtime import SourceStopped

        self._resume(runtime)
        connections = 0
        while not runtime.stopping:
            url = subscribe_url(self.url, self.collections, self.reader.progress.cursor())
            runtime.set_state("connecting", where(self.url))
            delivered, wait, why = False, 0.0, ""
            try:
                delivered = self._session(runtime, url, reconnect=connections > 0)
                wait, why = self._after_close(delivered)
            except SourceStopped:
                break
            except Exception as exc:  # every failure is a reason to wait and connect again
                wait, why = self._after_error(exc)
            finally:
                connections += 1
                self._checkpoint(runtime, force=True)
            if runtime.stopping:
                break
            runtime.set_state("backoff", f"{why}; again in {wait:.1f} s")
            if runtime.wait(wait):
                break

    def _resume(self, runtime: SourceRuntime) -> None:
        from streams.sources.bluesky_state import ResumePoint

        point = ResumePoint.decode(runtime.cursor)
        if point is None:
            runtime.gap("no saved cursor: starting from Jetstream's live tail")
            return
        age_us = time.time_ns() // 1000 - point.time_us
        if age_us > REPLAY_WINDOW_US:
            runtime.gap(f"the saved cursor is {age_us // 3_600_000_000} h old, beyond Jetstream's replay window")
        self.reader.resume_from(point)
        self._saved = point
        log.info("%s: resuming from cursor %d (%d recent post ids)", NAME, point.time_us, len(point.recent))

    def _session(self, runtime: SourceRuntime, url: str, reconnect: bool) -> bool:
        """One connection, read until it closes or the source stops; True if it delivered anything."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        delivered = False
        with connect(
            url,
            open_timeout=self.open_timeout_s,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_timeout_s,
            close_timeout=5.0,
            max_size=MAX_MESSAGE_BYTES,
            user_agent_header="lytte",
        ) as ws:
            if reconnect:
                runtime.reconnected()
            runtime.set_state("connected")
            while not runtime.stopping:
                try:
                    message = ws.recv(timeout=self.poll_s)
                except TimeoutError:
                    self._checkpoint(runtime)
                    continue
                except ConnectionClosed as exc:
                    log.info("%s: connection closed (%s)", NAME, exc)
                    return delivered
                delivered = True
                self._apply(runtime, message)
                self._checkpoint(runtime)
        return delivered

    def _apply(self, runtime: SourceRuntime, message: bytes | str) -> None:
        outcome = self.reader.read(message)
        if outcome.action == "post":
            runtime.post(outcome.post)
        elif outcome.action == "unmatched":
            runtime.unmatched()
        elif outcome.action == "reject":
            runtime.reject(message, outcome.reason)
        else:
            runtime.heartbeat()
        self.reader.settle(outcome)

    # -- reconnects -------------------------------------------------------------------------------------

    def _after_close(self, delivered: bool) -> tuple[float, str]:
        if delivered:
            self._reset_backoffs()
        return self.network_backoff.next(), "connection closed"

    def _after_error(self, exc: Exception) -> tuple[float, str]:
        from websockets.exceptions import InvalidStatus

        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            backoff = self.rate_limit_backoff if status == 429 else self.http_backoff
            return backoff.next(), f"HTTP {status}"
        if not isinstance(exc, OSError | TimeoutError):
            log.warning("%s: connection failed: %s: %s", NAME, type(exc).__name__, exc)
        return self.network_backoff.next(), f"{type(exc).__name__}: {str(exc)[:200]}"

    def _reset_backoffs(self) -> None:
        for backoff in (self.network_backoff, self.http_backoff, self.rate_limit_backoff):
            backoff.reset()

    # -- the cursor -------------------------------------------------------------------------------------

    def _checkpoint(self, runtime: SourceRuntime, force: bool = False) -> None:
        """Save where to resume, at most every `cursor_save_s` unless forced, and only once the posts up to it
        are in Kafka (a saved cursor never skips a post that could still be lost)."""
        now = time.monotonic()
        if not force and now - self._last_save < self.cursor_save_s:
            return
        point = self.reader.progress.point()
        if point is None or point == self._saved:
            return
        self._last_save = now
        try:
            runtime.producer.flush(FLUSH_LIMIT_S)
        except Exception as exc:
            log.warning("%s: posts not yet in Kafka (%s); the cursor waits", NAME, exc)
            return
        if runtime.save_cursor(point.encode()):
            self._saved = point


# -- the command ----------------------------------------------------------------------------------------


def add_cli(ingest) -> None:
    """Registers `lytte ingest bluesky` on the ingest sub-parsers. Provider libraries are imported when it runs,
    so that the CLI starts fast."""
    p = ingest.add_parser(
        "bluesky",
        help="Bluesky posts from a Jetstream instance (LYTTE_BLUESKY_JETSTREAM_URL), matched on our side",
    )
    p.add_argument("--config", help="the watch configuration (default: LYTTE_WATCH_CONFIG)")
    p.add_argument("--no-reposts", action="store_true", help="do not subscribe to reposts")
    p.add_argument(
        "--rewind", type=float, default=5.0, help="seconds a resume rewinds the cursor, repeats dropped (default 5)"
    )
    p.set_defaults(func=_run)


def _run(args) -> None:
    from streams.core.matching import Matcher
    from streams.sources.bluesky_reader import JetstreamReader
    from streams.sources.runtime import run_source
    from streams.usage import load_settings, load_watch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    reader = JetstreamReader(
        Matcher(load_watch(settings, args.config)), int(args.rewind * 1e6), reposts=not args.no_reposts
    )
    source = JetstreamSource(settings.bluesky_jetstream_url, reader)
    print(f"bluesky: {where(settings.bluesky_jetstream_url)}, {', '.join(source.collections)}", flush=True)
    run_source(NAME, settings, source.run)
