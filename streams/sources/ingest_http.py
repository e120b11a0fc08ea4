"""The generic HTTP ingest endpoint as a source (`lytte ingest http`), and what the HTTP sources share.

`POST /v1/posts` with `Authorization: Bearer <LYTTE_INGEST_TOKEN>` takes Posts (the `schemas.records.Post`
JSON) for tools lytte has no source for yet:

- `Content-Type: application/json`: one Post, or a list of them;
- `Content-Type: application/x-ndjson` (or `application/jsonl`): one Post a line, blank lines skipped.

Each post is validated on its own. The answer lists what was accepted (with the Post id) and what was
rejected with the reason, by line (JSON Lines) or item (a JSON list, from 1); rejected ones also go to the
deadletter topic. 200: every post accepted; 207: some accepted, some not; 422: none accepted; 400: the body
is not JSON at all; 401: no or a wrong token (nothing is read or deadlettered); 413: a body over the limit;
415: another content type; 503: Kafka did not confirm in time (send again: the worker counts a post once
by its id). The answer comes once Kafka has the posts. `GET /healthz` answers 200 without a token.

Without a token the endpoint does not start, unless it listens on a loopback address and is started with
`--no-auth` (a local tool on the same machine).

The shared part (`serve`, `Outbox`): an aiohttp server on `ingest_host`, its state in the source's health
report (connected while listening, a heartbeat on every valid delivery), and one thread that hands posts to
the producer (which is not made for many threads) and waits for Kafka's acknowledgement before a request
is answered. No access log: a query string (Meta's verify token) or a header must never reach a log.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NoReturn

import orjson
from pydantic import ValidationError

from schemas.records import Post
from streams.sources.meta_payload import validation_reason
from streams.usage import UsageError, load_settings

log = logging.getLogger(__name__)

NAME = "http"
POSTS_PATH = "/v1/posts"
HEALTH_PATH = "/healthz"
#: a request body larger than this is refused (413); a posts.raw record is at most 256 KiB by default
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
#: a client sending its body slower than this is cut off (a slow client must not hold a connection forever)
BODY_READ_S = 30.0
#: how long a request waits for Kafka to confirm its posts before a 503
FLUSH_LIMIT_S = 10.0
#: in-flight requests get this long to finish when the source stops
SHUTDOWN_S = 3.0
STOP_POLL_S = 0.2
MIN_TOKEN_CHARS = 16

JSON_TYPES = frozenset({"application/json"})
JSON_LINES_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)


class ListenError(RuntimeError):
    """The server cannot bind its address (in use, not ours)."""


# -- what the HTTP sources share ------------------------------------------------------------------------


def clip(payload: bytes, limit: int) -> tuple[bytes, str]:
    """A deadletter payload no larger than a posts.raw record may be, and a note for the reason when cut.

    Scenario: 300,000 bytes, limit 262,144 -> the first 262,144 bytes and " (first 262144 of 300000 bytes)";
    100 bytes -> the same 100 bytes and ""."""
    if len(payload) <= limit:
        return payload, ""
    return payload[:limit], f" (first {limit} of {len(payload)} bytes)"


class Outbox:
    """Posts and deadletters of a request, handed to the runtime on one thread, then Kafka's confirmation."""

    def __init__(self, runtime, flush_limit_s: float = FLUSH_LIMIT_S) -> None:
        self._runtime = runtime
        self._flush_limit_s = flush_limit_s
        self._limit = runtime.settings.max_record_bytes
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{runtime.name}-send")

    async def send(self, posts: Sequence[Post], rejected: Sequence[tuple[bytes, str]]) -> bool:
        """True once Kafka has every record; False when it did not confirm within the limit."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._send, list(posts), list(rejected))

    def _send(self, posts: list[Post], rejected: list[tuple[bytes, str]]) -> bool:
        for payload, reason in rejected:
            value, note = clip(payload, self._limit)
            self._runtime.reject(value, reason + note)
        for post in posts:
            self._runtime.post(post)
        try:
            self._runtime.producer.flush(self._flush_limit_s)
        except Exception as exc:  # KafkaException: the records stay queued and are sent again by the producer
            log.warning("%s: Kafka did not confirm in %.0f s (%s)", self._runtime.name, self._flush_limit_s, exc)
            return False
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def serve(runtime, app, host: str, port: int) -> None:
    """Serve `app` on host:port until `runtime.stopping`; the state is "connected" while listening. Raises
    ListenError when the address cannot be bound."""
    asyncio.run(_serve(runtime, app, host, port))


async def _serve(runtime, app, host: str, port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=SHUTDOWN_S)
        try:
            await site.start()
        except OSError as exc:
            detail = f"cannot listen on {host}:{port} ({exc.strerror or exc})"
            runtime.set_state("failed", detail)
            raise ListenError(detail) from None
        runtime.set_state("connected", f"listening on {host}:{port}")
        while not runtime.stopping:
            await asyncio.sleep(STOP_POLL_S)
    finally:
        await runner.cleanup()


class BodyRefused(Exception):
    """The body is not read: over the size limit (413) or too slow (408)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def read_body(request) -> bytes:
    """The request's body, at most the app's `client_max_size` bytes, within BODY_READ_S; else BodyRefused."""
    from aiohttp import web

    try:
        return await asyncio.wait_for(request.read(), BODY_READ_S)
    except TimeoutError:
        raise BodyRefused(408, f"the body took longer than {BODY_READ_S:.0f} s") from None
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyRefused(413, exc.text or "the body is too large") from None


def health_response(name: str):
    from aiohttp import web

    return web.json_response({"status": "ok", "source": name})


def is_loopback(host: str) -> bool:
    """ "127.0.0.1", "::1", "localhost" -> True; "0.0.0.0", "10.0.0.5", "example.org" -> False."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fail(message: str) -> NoReturn:
    """A configuration mistake: one line on stderr, exit code 2 (the CLI prints UsageError so)."""
    raise UsageError(message)


def configure_logging() -> None:
    """Source processes log their lines to stderr (the CLI sets up no logging of its own)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# -- the generic endpoint -------------------------------------------------------------------------------


class BodyError(ValueError):
    """The body as a whole cannot be read as posts (400)."""


@dataclass(frozen=True)
class Line:
    """One post of a request: its line or item number (from 1), the bytes as they came, and the Post or why
    it was rejected."""

    at: int
    raw: bytes
    post: Post | None = None
    reason: str | None = None


def read_posts(body: bytes, json_lines: bool, max_record_bytes: int) -> list[Line]:
    """A request body -> one Line per post, each validated on its own.

    Scenarios: JSON Lines with a valid post, a blank line and `{"text": 1}` -> [Line(1, post), Line(3,
    reason "source: Field required; ...")]; JSON `[post, post]` -> two Lines at 1 and 2; JSON `{post}` -> one
    Line at 1; JSON `"hello"` -> BodyError("expected a Post object or a list of them"); b"{" as JSON ->
    BodyError("not JSON: ..."); an empty body -> BodyError("no posts")."""
    if json_lines:
        items = [(n, raw.rstrip(b"\r")) for n, raw in enumerate(body.split(b"\n"), start=1) if raw.strip()]
    else:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BodyError(f"not JSON: {exc}") from None
        if isinstance(doc, dict):
            doc = [doc]
        if not isinstance(doc, list):
            raise BodyError("expected a Post object or a list of them")
        items = [(n, orjson.dumps(item)) for n, item in enumerate(doc, start=1)]
    if not items:
        raise BodyError("no posts")
    return [_validate(n, raw, max_record_bytes) for n, raw in items]


def _validate(at: int, raw: bytes, max_record_bytes: int) -> Line:
    if len(raw) > max_record_bytes:
        return Line(at, raw, reason=f"{len(raw)} bytes, over the {max_record_bytes}-byte limit of a post")
    try:
        return Line(at, raw, post=Post.model_validate_json(raw))
    except ValidationError as exc:
        return Line(at, raw, reason=validation_reason(exc))


def bearer_ok(header: str | None, token: str | None) -> bool:
    """`Authorization: Bearer <token>` with the configured token, compared in constant time; with no token
    configured (--no-auth on loopback) every request passes.

    Scenarios (token "t0k3n-of-16-chars"): "Bearer t0k3n-of-16-chars" -> True; "bearer t0k3n-of-16-chars"
    -> True (the scheme is case-insensitive); "Bearer wrong", "t0k3n-of-16-chars", None -> False."""
    if token is None:
        return True
    if not header:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def ingest_app(runtime, outbox: Outbox, token: str | None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
    """The aiohttp application of the generic endpoint (see the module's docstring)."""
    from aiohttp import web

    refused = 0
    max_record = runtime.settings.max_record_bytes

    async def posts(request: web.Request) -> web.Response:
        nonlocal refused
        if not bearer_ok(request.headers.get("Authorization"), token):
            refused += 1
            log.warning(
                "%s: request from %s refused: no or a wrong bearer token (%d refused so far)",
                runtime.name,
                request.remote,
                refused,
            )
            return web.json_response(
                {"error": "a valid bearer token is required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
            )
        if request.content_type in JSON_LINES_TYPES:
            json_lines = True
        elif request.content_type in JSON_TYPES:
            json_lines = False
        else:
            return web.json_response(
                {"error": "Content-Type must be application/json or application/x-ndjson"}, status=415
            )
        try:
            body = await read_body(request)
        except BodyRefused as exc:
            log.warning("%s: request from %s refused: %s", runtime.name, request.remote, exc)
            return web.json_response({"error": str(exc)}, status=exc.status)
        runtime.heartbeat()
        try:
            lines = read_posts(body, json_lines, max_record)
        except BodyError as exc:
            if body.strip() and not await outbox.send([], [(body, f"{NAME}: {exc}")]):
                return _unconfirmed()
            return web.json_response({"error": str(exc)}, status=400)
        good = [line for line in lines if line.post is not None]
        bad = [line for line in lines if line.post is None]
        where = "line" if json_lines else "item"
        rejected = [(line.raw, f"{NAME}: {where} {line.at}: {line.reason}") for line in bad]
        if not await outbox.send([line.post for line in good], rejected):
            return _unconfirmed()
        if bad:
            log.info("%s: %d posts accepted, %d rejected", runtime.name, len(good), len(bad))
        status = 200 if not bad else 207 if good else 422
        return web.json_response(
            {
                "accepted": [{where: line.at, "id": line.post.id} for line in good],
                "rejected": [{where: line.at, "reason": line.reason} for line in bad],
            },
            status=status,
        )

    async def health(_request: web.Request) -> web.Response:
        return health_response(runtime.name)

    app = web.Application(client_max_size=max_body_bytes)
    app.router.add_post(POSTS_PATH, posts)
    app.router.add_get(HEALTH_PATH, health)
    return app


def _unconfirmed():
    from aiohttp import web

    return web.json_response(
        {"error": "Kafka did not confirm the posts in time; send again (repeats count once)"},
        status=503,
        headers={"Retry-After": "5"},
    )


# -- the command ------------------------------------------------------------------------------------------


def add_cli(ingest) -> None:
    """Registers `lytte ingest http` on the ingest sub-parsers. aiohttp is imported when it runs, so that the
    CLI starts fast."""
    p = ingest.add_parser("http", help="the generic HTTP ingest endpoint: POST /v1/posts (JSON or JSON Lines)")
    p.add_argument("--host", help="address to listen on (default: LYTTE_INGEST_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: LYTTE_INGEST_PORT, 8062)")
    p.add_argument(
        "--no-auth", action="store_true", help="accept posts without a bearer token (only on a loopback address)"
    )
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="largest request body")
    p.set_defaults(func=_run)


def check_token(token: str | None, no_auth: bool, host: str) -> str | None:
    """The token the endpoint asks for, or None for --no-auth; raises ValueError when the combination is unsafe.

    Scenarios: a 32-character token -> it; no token -> error; no token and --no-auth on 127.0.0.1 -> None; no
    token and --no-auth on 0.0.0.0 -> error; a token and --no-auth -> error (say which you mean); a
    10-character token -> error (too short to stand as a secret)."""
    if no_auth:
        if token:
            raise ValueError("--no-auth while LYTTE_INGEST_TOKEN is set: drop one of them")
        if not is_loopback(host):
            raise ValueError(f"--no-auth is only allowed on a loopback address, not {host}")
        return None
    if not token:
        raise ValueError("set LYTTE_INGEST_TOKEN (or LYTTE_INGEST_TOKEN_FILE), or use --no-auth on a loopback address")
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"LYTTE_INGEST_TOKEN is shorter than {MIN_TOKEN_CHARS} characters")
    return token


def _run(args) -> None:
    from streams.sources.runtime import run_source

    configure_logging()
    settings = load_settings()
    host = args.host or settings.ingest_host
    port = args.port or settings.ingest_port
    try:
        token = check_token(settings.secret("ingest_token"), args.no_auth, host)
    except ValueError as exc:
        fail(f"ingest http: {exc}")

    def body(runtime) -> None:
        outbox = Outbox(runtime)
        try:
            print(
                f"ingest http: POST http://{host}:{port}{POSTS_PATH}"
                + (" (no token: loopback only)" if token is None else ""),
                flush=True,
            )
            serve(runtime, ingest_app(runtime, outbox, token, args.max_body_bytes), host, port)
        finally:
            outbox.close()

    try:
        run_source(NAME, settings, body, push=True)
    except ListenError as exc:
        fail(f"ingest http: {exc}")
