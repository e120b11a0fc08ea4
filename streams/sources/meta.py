"""Meta page webhooks as a source (`lytte ingest meta`): posts and comments on the brands' Facebook pages.

One HTTP endpoint (`--path`, default `/meta`, on `LYTTE_INGEST_HOST`:`LYTTE_META_PORT`) that Meta calls:

- `GET` is Meta's subscription check: `hub.mode=subscribe` and `hub.verify_token` equal to
  `LYTTE_META_VERIFY_TOKEN` -> 200 with `hub.challenge` as text/plain; anything else -> 403;
- `POST` is a delivery, taken only with a valid `X-Hub-Signature-256` (HMAC-SHA256 of the raw body keyed with
  `LYTTE_META_APP_SECRET`, compared in constant time); a missing or wrong one -> 403, counted and logged
  without the body, nothing sent. A verified delivery's `feed` changes become Posts
  (`streams.sources.meta_payload`); what cannot be read goes to the deadletter topic and Meta still gets its
  200 (Meta retries what it does not get a 200 for, and after long failure alerts the app's developers and
  may switch the subscription off: a bad payload must not come back again and again). The 200 comes once
  Kafka has the posts; when Kafka does not confirm within META_CONFIRM_S the answer is 503, so that Meta
  sends the delivery again (the worker counts a post once by its id; the producer still delivers what it
  holds once Kafka is back).

What to listen for is not ours to choose here: Meta sends the changes of the pages that installed the app
(`/{page-id}/subscribed_apps`, field `feed`); the worker matches the posts to brands as any other.
"""

from __future__ import annotations

import hmac
import logging

from streams.sources.ingest_http import (
    DEFAULT_MAX_BODY_BYTES,
    HEALTH_PATH,
    BodyRefused,
    ListenError,
    Outbox,
    configure_logging,
    fail,
    health_response,
    load_settings,
    read_body,
    serve,
)
from streams.sources.meta_payload import SIGNATURE_HEADER, SeenIds, parse_delivery, verify_signature

log = logging.getLogger(__name__)

NAME = "meta"
DEFAULT_PATH = "/meta"
#: Meta's challenge is a short number; anything much longer is not Meta
MAX_CHALLENGE_CHARS = 1024
#: how long a delivery waits for Kafka's confirmation before a 503 (Meta expects its answer within seconds)
META_CONFIRM_S = 5.0


def meta_app(
    runtime,
    outbox: Outbox,
    app_secret: str,
    verify_token: str,
    *,
    path: str = DEFAULT_PATH,
    listening: str = "",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    seen: SeenIds | None = None,
):
    """The aiohttp application (see the module's docstring). `listening` is the health detail while serving;
    refused deliveries are counted into it."""
    from aiohttp import web

    seen = seen if seen is not None else SeenIds()
    refused = 0

    async def subscription_check(request: web.Request) -> web.Response:
        query = request.query
        challenge = query.get("hub.challenge", "")
        token_ok = hmac.compare_digest(query.get("hub.verify_token", "").encode(), verify_token.encode())
        if query.get("hub.mode") == "subscribe" and token_ok and 0 < len(challenge) <= MAX_CHALLENGE_CHARS:
            log.info("%s: subscription check answered", runtime.name)
            return web.Response(text=challenge, content_type="text/plain")
        log.warning(
            "%s: subscription check from %s refused (mode, verify token or challenge not as expected)",
            runtime.name,
            request.remote,
        )
        return web.Response(status=403, text="forbidden\n")

    async def delivery(request: web.Request) -> web.Response:
        nonlocal refused
        try:
            body = await read_body(request)
        except BodyRefused as exc:
            log.warning("%s: delivery from %s refused: %s", runtime.name, request.remote, exc)
            return web.Response(status=exc.status, text=f"{exc}\n")
        header = request.headers.get(SIGNATURE_HEADER)
        if not verify_signature(body, header, app_secret):
            refused += 1
            why = "no X-Hub-Signature-256" if not header else "the signature does not match"
            log.warning(
                "%s: delivery of %d bytes from %s refused: %s (%d refused so far)",
                runtime.name,
                len(body),
                request.remote,
                why,
                refused,
            )
            runtime.set_state("connected", f"{listening}; {refused} deliveries refused (signature)".lstrip("; "))
            return web.Response(status=403, text="signature does not verify\n")
        runtime.heartbeat()
        parsed = parse_delivery(body)
        fresh = {}
        for feed_post in parsed.posts:
            if feed_post.post.id not in seen and feed_post.post.id not in fresh:
                fresh[feed_post.post.id] = feed_post.post
        rejected = [(r.payload, r.reason) for r in parsed.rejected]
        if not await outbox.send(list(fresh.values()), rejected):
            return web.Response(status=503, text="not stored yet; send again\n", headers={"Retry-After": "5"})
        for post_id in fresh:
            seen.add(post_id)
        quiet = parsed.ignored + len(parsed.posts) - len(fresh)
        if quiet:
            runtime.unmatched(quiet)
        return web.Response(text="EVENT_RECEIVED")

    async def health(_request: web.Request) -> web.Response:
        return health_response(runtime.name)

    app = web.Application(client_max_size=max_body_bytes)
    app.router.add_get(path, subscription_check)
    app.router.add_post(path, delivery)
    if path != HEALTH_PATH:
        app.router.add_get(HEALTH_PATH, health)
    return app


def add_cli(ingest) -> None:
    """Registers `lytte ingest meta` on the ingest sub-parsers. aiohttp is imported when it runs, so that the
    CLI starts fast."""
    p = ingest.add_parser("meta", help="Meta page webhooks: posts and comments on Facebook pages")
    p.add_argument("--host", help="address to listen on (default: LYTTE_INGEST_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: LYTTE_META_PORT, 8061)")
    p.add_argument("--path", default=DEFAULT_PATH, help=f"the callback path Meta calls (default {DEFAULT_PATH})")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="largest delivery")
    p.set_defaults(func=_run)


def _run(args) -> None:
    from streams.sources.runtime import run_source

    configure_logging()
    settings = load_settings()
    host = args.host or settings.ingest_host
    port = args.port or settings.meta_port
    path = args.path if args.path.startswith("/") else "/" + args.path
    try:
        app_secret = settings.secret("meta_app_secret")
        verify_token = settings.secret("meta_verify_token")
    except ValueError as exc:
        fail(f"ingest meta: {exc}")
    missing = [name for name, value in (("APP_SECRET", app_secret), ("VERIFY_TOKEN", verify_token)) if not value]
    if missing:
        fail("ingest meta: set " + " and ".join(f"LYTTE_META_{m} (or LYTTE_META_{m}_FILE)" for m in missing))

    def body(runtime) -> None:
        outbox = Outbox(runtime, flush_limit_s=META_CONFIRM_S)
        try:
            print(f"ingest meta: Meta page webhooks on http://{host}:{port}{path}", flush=True)
            app = meta_app(
                runtime, outbox, app_secret, verify_token, path=path, listening=f"listening on {host}:{port}"
            )
            serve(runtime, app, host, port)
        finally:
            outbox.close()

    try:
        run_source(NAME, settings, body, push=True)
    except ListenError as exc:
        fail(f"ingest meta: {exc}")
