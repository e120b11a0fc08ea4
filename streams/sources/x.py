"""X as a source (`lytte ingest x`): the v2 filtered stream through tweepy's `StreamingClient`.

At start the stream's rules are made the watch configuration's (`x_rules`: added, deleted, kept; tagged with
the target), then the stream is read (`x_stream`), each post turned into a Post (`x_payload`) and sent to
posts.raw, and every ended connection followed by X's documented wait (`x_reconnect`). `--sample` reads X's
1% sample stream instead (no rules: for demos with a bearer token). `--dry-run` shows what the rule sync
would change, checked by X, and stops.

The bearer token comes from `LYTTE_X_BEARER_TOKEN` or the file `LYTTE_X_BEARER_TOKEN_FILE` names; it is
masked in every log line (tweepy logs request headers at debug level) and never leaves for a non-https,
non-loopback URL.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

SOURCE_NAME = "x"


def add_cli(ingest) -> None:
    """Registers `lytte ingest x` on the ingest sub-parsers. Provider libraries are imported when it runs,
    so that the CLI starts fast."""
    from streams.sources.x_reconnect import STALL_S
    from streams.sources.x_rules import DEFAULT_RULE_MAX_CHARS

    p = ingest.add_parser(
        "x",
        help="X's filtered stream (rules from the watch configuration), or --sample",
        description="Reads X's v2 filtered stream with the bearer token in LYTTE_X_BEARER_TOKEN (or the file "
        "LYTTE_X_BEARER_TOKEN_FILE names). The stream's rules are synced from the watch configuration first.",
    )
    p.add_argument("--config", help="watch configuration (default: LYTTE_WATCH_CONFIG)")
    p.add_argument("--sample", action="store_true", help="read X's 1%% sample stream instead (no rules)")
    p.add_argument("--dry-run", action="store_true", help="show what the rule sync would change (X checks it); exit")
    p.add_argument(
        "--rule-max-chars",
        type=int,
        default=DEFAULT_RULE_MAX_CHARS,
        help=f"longest rule your access level allows (default {DEFAULT_RULE_MAX_CHARS}; Pro 1024, Enterprise 2048)",
    )
    p.add_argument(
        "--stall-s",
        type=float,
        default=STALL_S,
        help=f"reconnect after this long without any data, keep-alives included (default {STALL_S:g})",
    )
    p.add_argument("--loglevel", default="info")
    # tests run the documented waits on a faster clock (0.01: the 60 s after a 429 take 0.6 s)
    p.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    p.set_defaults(func=_run)


def _run(args) -> None:
    from schemas.settings import Settings
    from streams.cli import _watch
    from streams.sources.runtime import listen_targets, run_source
    from streams.sources.x_rules import rules_for

    settings = Settings()
    token = settings.secret("x_bearer_token")
    if not token:
        raise SystemExit("lytte ingest x: set LYTTE_X_BEARER_TOKEN (or LYTTE_X_BEARER_TOKEN_FILE)")
    configure_logging(args.loglevel, [token])
    wanted = [] if args.sample else rules_for(listen_targets(_watch(settings, args.config)), args.rule_max_chars)
    from streams.sources.x_stream import check_api_url

    try:
        check_api_url(settings.x_api_url)
    except ValueError as exc:
        raise SystemExit(f"lytte ingest x: {exc}") from None
    if args.dry_run:
        import requests
        from tweepy.errors import HTTPException

        try:
            dry_run(settings.x_api_url, token, wanted)
        except (HTTPException, requests.RequestException) as exc:
            raise SystemExit(f"lytte ingest x: the rule check failed: {type(exc).__name__}: {exc}") from None
        return

    def body(runtime) -> None:
        def wait(seconds: float) -> bool:
            return runtime.wait(seconds * args.time_scale)

        run_x(runtime, token, settings.x_api_url, wanted, sample=args.sample, stall_s=args.stall_s, wait=wait)

    run_source(SOURCE_NAME, settings, body)


def run_x(
    runtime,
    token: str,
    api_url: str,
    wanted: Sequence,
    *,
    sample: bool = False,
    stall_s: float | None = None,
    wait: Callable[[float], bool] | None = None,
) -> None:
    """The source's life: sync the rules (unless `sample`), then read the stream until `runtime.stopping`,
    waiting between connections as `ReconnectPolicy` says. `wait(seconds) -> stop?` defaults to
    `runtime.wait`; a test passes one that records the waits (or scales them)."""
    from streams.sources.x_reconnect import STALL_S, ReconnectPolicy
    from streams.sources.x_stream import ApiHostAdapter, XStream

    wait = wait or runtime.wait
    policy = ReconnectPolicy()
    stream = XStream(token, runtime, policy, ApiHostAdapter(api_url, stall_s or STALL_S))
    _stop_with(runtime, stream)
    runtime.set_state("connecting")
    if not sample and not _sync_until_done(runtime, stream, wanted, policy, wait):
        return
    while not runtime.stopping:
        outcome = stream.run_once(sample)
        if runtime.stopping:
            return
        pause = policy.after(outcome)
        detail = f"{pause.why}; next try in {pause.seconds:g} s"
        log.warning("x: %s", detail)
        runtime.set_state(pause.state, detail)
        if wait(pause.seconds):
            return
        runtime.set_state("connecting", pause.why)


def _sync_until_done(runtime, stream, wanted, policy, wait) -> bool:
    """Sync the rules, backing off on errors like a connection does; False if asked to stop first."""
    import requests
    from tweepy.errors import HTTPException

    from streams.sources.x_reconnect import Outcome
    from streams.sources.x_rules import sync_rules

    while not runtime.stopping:
        try:
            result = sync_rules(stream, wanted)
        except HTTPException as exc:
            status = exc.response.status_code
            outcome = Outcome("http", f"rule sync: HTTP {status}", status)
        except requests.RequestException as exc:
            outcome = Outcome("network", f"rule sync: {type(exc).__name__}")
        else:
            (log.warning if result.problems else log.info)("x: %s", result.summary())
            policy.delivered()
            if result.problems:
                runtime.set_state("connecting", result.summary()[:500])
            return True
        pause = policy.after(outcome)
        detail = f"{pause.why}; next try in {pause.seconds:g} s"
        log.warning("x: %s", detail)
        runtime.set_state(pause.state, detail)
        if wait(pause.seconds):
            return False
    return False


def _stop_with(runtime, stream) -> None:
    """A stop (SIGTERM, Ctrl-C) cuts the open stream at once instead of at the next keep-alive."""

    def watch() -> None:
        while not runtime.wait(3600):
            pass
        stream.stop()

    threading.Thread(target=watch, name="x-stop", daemon=True).start()


def dry_run(api_url: str, token: str, wanted: Sequence) -> None:
    from streams.sources.x_rules import sync_rules
    from streams.sources.x_stream import ApiHostAdapter, XStream

    stream = XStream(token, _NoRuntime(), None, ApiHostAdapter(api_url))
    result = sync_rules(stream, wanted, dry_run=True)
    for rule in result.added:
        print(f"add    {rule.tag}: {rule.value}")
    for rule in result.deleted:
        print(f"delete {rule.tag or '(no tag)'}: {rule.value}")
    print(f"x (dry run, nothing changed): {result.summary()}")


class _NoRuntime:
    """What `XStream` needs of a runtime when it only talks to the rules endpoints."""

    def __getattr__(self, name: str):
        raise RuntimeError(f"no stream in a dry run ({name})")


class RedactSecrets(logging.Filter):
    """Masks secrets in every log record a handler writes, exception text included.

    Scenario: a record "Headers: {'Authorization': 'Bearer abc123'}" with secret "abc123" -> written as
    "Headers: {'Authorization': 'Bearer [redacted]'}"."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            record.msg, record.args = self._mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and any(s in record.exc_text for s in self.secrets):
            record.exc_text = self._mask(record.exc_text)
        return True

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


def configure_logging(level: str, secrets: Sequence[str]) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
