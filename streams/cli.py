"""`lytte`: one command for the whole stack and each of its parts."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from schemas.settings import Settings
from schemas.watch import WatchConfig, WatchConfigError
from streams.local.processes import ServiceError
from streams.usage import UsageError, load_settings, load_watch

_settings = load_settings
_watch = load_watch


def _alerting_watch(settings: Settings, path: str | None = None) -> WatchConfig:
    """The watch file, with what its receivers need from the environment checked too (for processes that send)."""
    from streams.notify.config_check import AlertingConfigError, check_alerting

    watch = _watch(settings, path)
    try:
        check_alerting(watch.alerts, str(path or settings.watch_config))
    except AlertingConfigError as exc:
        raise UsageError(str(exc)) from None
    return watch


# -- services ------------------------------------------------------------------------------------------


def cmd_kafka(args: argparse.Namespace) -> None:
    from streams.local.kafka.launcher import KafkaBroker, fetch_jars

    settings = _settings()
    if args.action == "fetch":
        print(fetch_jars(settings.cache_dir))
        return
    broker = KafkaBroker(
        settings.home / "kafka",
        settings.kafka_port,
        settings.kafka_controller_port,
        settings.cache_dir,
        settings.kafka_home,
    )
    broker.start()
    print(f"kafka: {broker.bootstrap} (log: {broker.log_file}); Ctrl-C stops it", flush=True)
    _wait_forever([broker.process])
    broker.stop()


def cmd_redis(args: argparse.Namespace) -> None:
    from streams.local.redis import LocalRedis

    settings = _settings()
    server = LocalRedis(settings.home / "redis", settings.redis_port)
    server.start()
    print(f"redis: {server.url}; Ctrl-C stops it", flush=True)
    _wait_forever([server.process])
    server.stop()


def cmd_topics(args: argparse.Namespace) -> None:
    from streams.topics_admin import create_topics, describe_topics

    settings = _settings()
    if args.action == "create":
        created = create_topics(settings)
        print(f"created: {', '.join(created) if created else 'nothing (all exist)'}")
    for name, partitions in sorted(describe_topics(settings).items()):
        print(f"{name}\t{partitions} partitions")


# -- processing ----------------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> None:
    from faust.worker import Worker

    from streams.agents.app import create_app
    from streams.topics_admin import create_topics

    settings = _settings()
    watch = _alerting_watch(settings, args.config)
    create_topics(settings)
    app = create_app(settings, watch)
    worker = Worker(app, loglevel=args.loglevel, quiet=True, redirect_stdouts=False)
    # faust's terminal spinner sets the root logger to DEBUG so it can spin on every record: every debug
    # call in faust and aiokafka then builds a log record (about a tenth of the worker's time).
    worker.spinner = None
    worker.execute_from_commandline()


def cmd_status(args: argparse.Namespace) -> None:
    """What the pipeline has handled, from Kafka alone. Exit 0 even when stalled (a report); 2 if Kafka does
    not answer."""
    from streams.status import run_status

    run_status(_settings(), as_json=args.json, timeout_s=args.timeout)


def cmd_score(args: argparse.Namespace) -> None:
    """Score Posts (JSON Lines) or plain text lines from stdin: one JSON line per post on stdout, matched or
    not (see `_score_line`); with --explain also each token's values and the rules that changed them."""
    from streams.core.batch import failure_reason
    from streams.core.scoring import Scorer
    from streams.sentiment.language import LanguageGuesser
    from streams.sentiment.router import SentimentRouter

    settings = _settings()
    scorer = Scorer(_watch(settings, args.config))
    # the worker's own classes, for the posts it would not score (unmatched) and for the explanations
    reader = _PostReader(LanguageGuesser(), SentimentRouter.default(), args.explain)
    now = datetime.now(UTC)
    for number, line in enumerate(sys.stdin.buffer, 1):
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            _score_line(scorer, reader, number, line, now)
        except Exception as exc:  # one bad line must not stop the rest, as in the worker
            print(f"line {number}: {failure_reason(exc)}", file=sys.stderr)
    sys.stdout.flush()


class _PostReader:
    """What `lytte score` needs beside the worker's Scorer: the language guesser and sentiment router (the
    worker's classes) for posts that name no watched brand, and whether to explain."""

    def __init__(self, guesser, router, explain: bool) -> None:
        self.guesser = guesser
        self.router = router
        self.explain = explain


def _score_line(scorer, reader: _PostReader, number: int, line: bytes, now: datetime) -> None:
    """One post in, one JSON object out: {"line", "post", "language", "sentiment", "brands": [{"brand",
    "brand_role", "matched_terms", "keywords"}] (empty when it names no watched brand), "key_people"} and with
    --explain "explanation": {"rules", "tokens": [{"token", "lexicon", "value", "rules"}]}."""
    import dataclasses

    import orjson

    from schemas.records import Author, Evidence, Post, Source
    from streams.core.intake import Rejected, parse_post

    if line.lstrip().startswith(b"{"):
        post = parse_post(line, now)
    else:
        post = Post(
            source=Source.REPLAY,
            source_id=f"stdin-{number}",
            created_at=now,
            text=line.decode("utf-8", "replace"),
            author=Author(id="stdin", handle="stdin"),
        )
    if isinstance(post, Rejected):
        print(f"line {number}: rejected: {post.reason}", file=sys.stderr)
        return
    scored = scorer.score(post, Evidence(raw_partition=0, raw_offset=number - 1, raw_timestamp_ms=0))
    if scored:
        language, sentiment, people = scored[0].language, scored[0].sentiment, scored[0].key_people
    else:
        print(f"line {number}: matches no watched brand", file=sys.stderr)
        language = reader.guesser.language(post.text, post.language)
        sentiment = reader.router.score(post.text, language)
        people = ()
    record = {
        "line": number,
        "post": post.model_dump(mode="json"),
        "language": language,
        "sentiment": sentiment.model_dump(mode="json"),
        "brands": [
            {"brand": s.brand, "brand_role": s.brand_role, "matched_terms": s.matched_terms, "keywords": s.keywords}
            for s in scored
        ],
        "key_people": [p.model_dump(mode="json") for p in people],
    }
    if reader.explain:
        explanation = reader.router.explain(post.text, language)
        record["explanation"] = {
            "rules": explanation.rules,
            "tokens": [dataclasses.asdict(t) for t in explanation.tokens],
        }
    sys.stdout.buffer.write(orjson.dumps(record) + b"\n")


def cmd_sentiment_eval(args: argparse.Namespace) -> None:
    """Accuracy, macro-F1, recall per class, Pearson's r (with valences) and posts/s of a labelled file, scored
    through the worker's sentiment call, beside raw VADER's posts/s on the same texts."""
    import json

    from streams.sentiment.evaluate import EvaluationError, evaluate, read_examples

    try:
        examples = read_examples(Path(args.file), args.text_field, args.label_field, args.valence_field)
    except EvaluationError as exc:
        raise UsageError(f"sentiment eval: {exc}") from None
    report = evaluate(examples, args.lang)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print("\n".join(report.lines(Path(args.file).name)))


def cmd_sentiment_correct(args: argparse.Namespace) -> None:
    """An operator's label for one post, written to the actions topic (see streams.sentiment.correct)."""
    from kafka.errors import KafkaError

    from streams.alerts_admin import operator
    from streams.sentiment.correct import CorrectionError, action_line, correct

    settings = _settings()
    try:
        action = correct(
            settings,
            args.post_id,
            args.brand,
            args.label,
            by=args.by or operator(),
            reason=args.reason or "",
            old_label=args.old_label,
            created_at=args.created_at,
            text=args.text,
        )
    except CorrectionError as exc:
        raise UsageError(f"sentiment correct: {exc}") from None
    except KafkaError as exc:
        raise UsageError(f"sentiment correct: Kafka at {settings.bootstrap} did not answer ({exc})") from None
    print(action_line(action))


def cmd_sentiment_curve(args: argparse.Namespace) -> None:
    """The learning curve of the per-brand adjustment: accuracy and macro-F1 after N corrections per brand."""
    import json

    from streams.sentiment.curve import learning_curve, parse_ns, read_labelled
    from streams.sentiment.evaluate import EvaluationError

    try:
        ns = parse_ns(args.n)
        if args.repeats < 1:
            raise ValueError("--repeats must be at least 1")
        posts = read_labelled(Path(args.file), args.text_field, args.label_field, args.brand_field)
    except (EvaluationError, ValueError) as exc:
        raise UsageError(f"sentiment curve: {exc}") from None
    curve = learning_curve(posts, args.lang, ns, repeats=args.repeats, seed=args.seed)
    if args.json:
        print(json.dumps(curve.as_json()))
    else:
        print("\n".join(curve.lines(Path(args.file).name)))


# -- sources -------------------------------------------------------------------------------------------

#: live sources: each module registers `lytte ingest <name>` (its `add_cli`) and imports its provider's
#: library only when it runs
SOURCE_MODULES = (
    "streams.sources.x",
    "streams.sources.mastodon",
    "streams.sources.bluesky",
    "streams.sources.meta",
    "streams.sources.ingest_http",
)


def cmd_replay(args: argparse.Namespace) -> None:
    from streams.sources.producer import PostProducer
    from streams.sources.replay import CsvMapping, play, read_posts, timeline

    settings = _settings()
    mapping = CsvMapping.parse(args.columns) if args.columns else None
    posts = read_posts(Path(args.file), mapping)
    if args.limit:
        posts = posts[: args.limit]
    with PostProducer(settings) as producer:
        sent = play(timeline(posts, args.speed, args.keep_time, datetime.now(UTC)), producer.send)
    print(f"replay: sent {sent} posts from {args.file} to {producer.topic}")


def cmd_synth(args: argparse.Namespace) -> None:
    from streams.sources.replay import play
    from streams.sources.runtime import SourceStopped, run_source
    from streams.sources.synth import Incident, SynthSource

    settings = _settings()
    incident = None if args.no_incident else Incident(at_minute=args.incident_at, minutes=args.incident_minutes)
    source = SynthSource(
        _watch(settings, args.config), rate=args.rate, seed=args.seed, incident=incident, day_night=args.day_night
    )
    print(
        f"synth: {args.rate} posts/s"
        + (f" after {args.history:g} minutes of history" if args.history else "")
        + (f", incident at minute {args.incident_at:g} for {args.incident_minutes:g} min" if incident else ""),
        flush=True,
    )
    sent = 0

    def body(runtime) -> None:
        nonlocal sent
        runtime.set_state("connected")  # the synthetic source reports its health like a live one
        schedule = source.schedule(datetime.now(UTC), args.limit, args.history, args.duration)
        if args.fast:
            schedule = ((0.0, post) for _, post in schedule)
        try:
            sent = play(schedule, runtime.post, sleep=runtime.sleep)
        except SourceStopped:
            sent = runtime.sent

    run_source("synth", settings, body)
    print(f"synth: sent {sent} posts")


# -- dashboard, whole stack, benchmark ----------------------------------------------------------------


def cmd_dashboard(args: argparse.Namespace) -> None:
    from dashboards import auth
    from dashboards.app import run

    settings = _settings()
    try:
        auth.check(settings)  # one clear line before the server starts a worker that cannot boot
    except auth.AuthConfigError as exc:
        raise UsageError(str(exc)) from None
    from schemas.urls import http_url

    print(f"dashboard: {http_url(settings.dashboard_host, settings.dashboard_port)}", flush=True)
    run(settings)


def _wait_forever(processes: list[subprocess.Popen]) -> None:
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def cmd_up(args: argparse.Namespace) -> None:
    from streams.local.stack import Stack

    settings = _settings()
    _alerting_watch(settings)  # fail before starting anything
    stack = Stack(settings, synth_rate=args.rate, synth_history_min=args.history)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly on `kill` as on Ctrl-C
    try:
        stack.start()
        print(
            f"\n  lytte is up: open {stack.dashboard_url}\n  (logs in {stack.logs}; Ctrl-C stops everything)\n",
            flush=True,
        )
        stack.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


def cmd_bench(args: argparse.Namespace) -> None:
    from streams.bench.run import parse_modes, run_bench
    from streams.local.stack import WORKERS

    workers = WORKERS if args.workers is None else args.workers
    try:
        modes = parse_modes(args.modes)
    except ValueError as exc:
        raise UsageError(f"--modes: {exc}") from None
    if workers < 1 or args.n < 1 or args.steady_rate <= 0 or args.steady_seconds <= 0:
        raise UsageError("bench: -n, --workers, --steady-rate and --steady-seconds must be positive")
    run_bench(
        _settings(),
        n=args.n,
        modes_to_run=modes,
        workers=workers,
        steady_rate=args.steady_rate,
        steady_seconds=args.steady_seconds,
        profile=args.profile,
    )


def cmd_soak(args: argparse.Namespace) -> None:
    """Exit 1 when the worker's state did not stay flat."""
    from streams.soak import run_soak

    settings = _settings()
    signal.signal(signal.SIGTERM, _interrupt)  # stop the broker, Redis and worker on `kill` too
    out = Path(args.out) if args.out else None
    if not run_soak(settings, minutes=args.minutes, rate=args.rate, sample_s=args.sample_s, out=out):
        sys.exit(1)


def cmd_rules_backtest(args: argparse.Namespace) -> None:
    """One JSON line per alert of a rule run causally over a `timestamp,value` CSV."""
    from streams.alerts.backtest import run_backtest

    try:
        run_backtest(Path(args.series), rule=args.rule, overrides=args.set or [])
    except (ValueError, OSError) as exc:
        raise UsageError(f"rules backtest: {exc}") from None
    sys.stdout.flush()


def cmd_alerts(args: argparse.Namespace) -> None:
    """What is firing, and the operator's actions, through Kafka (see streams.alerts_admin)."""
    import json

    from kafka.errors import KafkaError

    from schemas import alert_actions as actions
    from streams import alerts_admin as admin

    settings = _settings()
    now = datetime.now(UTC)
    by = getattr(args, "by", None) or admin.operator()
    try:
        if args.action == "test":
            _alerts_test(settings, args.receiver)
            return
        if args.action == "inbound":
            _alerts_inbound(settings, args.host, args.port)
            return
        board = admin.read_board(settings)
        if args.action == "list":
            if args.json:
                doc = {
                    "firing": [a.model_dump(mode="json") for a in board.firing()],
                    "incidents": [i.model_dump(mode="json") for i in board.open_incidents()],
                    "silences": [s.model_dump(mode="json") for s in board.active_silences(now)],
                    "acked": sorted(board.acked),
                }
                print(json.dumps(doc, indent=2))
            else:
                print("\n".join(admin.board_text(board, now)))
            return
        if args.action == "silence":
            action = actions.silence_action(
                args.match or [], actions.parse_duration(args.duration), args.reason, by, now
            )
        elif args.action == "unsilence":
            action = actions.expire_action(args.silence, board, by, now)
        else:
            action = actions.target_action(args.action, args.target, board, args.reason or "", by, now)
        admin.write_action(settings, action)
    except actions.AlertsAdminError as exc:
        raise UsageError(f"alerts {args.action}: {exc}") from None
    except KafkaError as exc:
        raise UsageError(f"alerts {args.action}: Kafka at {settings.bootstrap} did not answer ({exc})") from None
    print(f"{action.kind}: written ({action.silence.id if action.silence else action.id}) by {by}")


def _alerts_inbound(settings: Settings, host: str, port: int) -> None:
    """Serve PagerDuty's incident webhooks until stopped (see streams.notify.inbound)."""
    import os

    from aiohttp import web

    from streams import alerts_admin
    from streams.notify.inbound import SECRETS_ENV, inbound_app

    secrets = os.environ.get(SECRETS_ENV, "").split()
    if not secrets:
        raise UsageError(f"alerts inbound: set {SECRETS_ENV} to the webhook subscription's signing secret(s)")
    app = inbound_app(secrets, lambda action: alerts_admin.write_action(settings, action))
    print(f"alerts inbound: PagerDuty webhooks on http://{host}:{port}/pagerduty", flush=True)
    web.run_app(app, host=host, port=port, print=None)


def _alerts_test(settings: Settings, receiver: str) -> None:
    """One signed test notification to a receiver of the watch file; exit 1 unless it was delivered."""
    import asyncio

    from streams.notify.sender import Sender

    watch = _alerting_watch(settings)
    if receiver not in {r.name for r in watch.alerts.receivers}:
        names = ", ".join(r.name for r in watch.alerts.receivers) or "none configured"
        raise UsageError(f"alerts test: no receiver {receiver!r} (receivers: {names})")

    async def nothing(_delivery) -> None:
        return None

    async def send():
        sender = Sender(watch.alerts, nothing)
        try:
            return await sender.test(receiver)
        finally:
            await sender.close()

    delivery = asyncio.run(send())
    detail = f" (HTTP {delivery.status_code})" if delivery.status_code else ""
    print(f"alerts test: {receiver}: {delivery.state}{detail}{': ' + delivery.error if delivery.error else ''}")
    if delivery.state != "delivered":
        sys.exit(1)


def cmd_schemas(args: argparse.Namespace) -> None:
    from schemas.json_schema import check_files, write_files

    if args.action == "write":
        for path in write_files():
            print(path)
    else:
        stale = check_files()
        if stale:
            raise UsageError(f"JSON Schema files differ from the models: {', '.join(stale)} (run lytte schemas write)")
        print("schemas: up to date")


def _labelled_file_arguments(p: argparse.ArgumentParser) -> None:
    """The labelled file and how to read it, as `sentiment eval` and `sentiment curve` take them."""
    p.add_argument("file")
    p.add_argument("--lang", required=True, choices=["en", "da", "no", "sv"], help="the language to score in")
    p.add_argument("--text-field", default="text", help="field (CSV column) of the text (default: text)")
    p.add_argument("--label-field", default="label", help="field of the label (default: label)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lytte", description="a self-hosted social media command center")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="run the whole stack: Kafka and Redis (unless configured), worker, dashboard, synth")
    p.add_argument("--rate", type=float, default=8.0, help="synth posts per second (default 8)")
    p.add_argument(
        "--history", type=float, default=200.0, help="minutes of synth history sent first (default 200: the warm-up)"
    )
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("worker", help="run a stream worker (score + aggregate agents)")
    p.add_argument("--config", help="watch configuration (default: LYTTE_WATCH_CONFIG)")
    p.add_argument("--loglevel", default="warning")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("dashboard", help="run the Dash command center")
    p.set_defaults(func=cmd_dashboard)

    from dashboards.users import add_users_parser

    add_users_parser(sub)

    p = sub.add_parser(
        "status",
        help="per raw partition: posts in the topic, handled, lag, stalled or not (from Kafka; exit 0 even if stalled)",
        description="Reads Kafka only, so it works while Redis or the workers are down. Exit code 0 whenever Kafka "
        "answered, stalled or not (read `stalled` from --json); 2 if Kafka does not answer in time.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object (PipelineStatus plus services)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds Kafka gets to answer (default 10)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "score",
        help="score posts from stdin (JSON Lines or plain text) to stdout, no broker",
        description="One JSON line per post, matched or not: the post, its language, its sentiment, the watched "
        "brands it names (empty when none) and the key people in it.",
    )
    p.add_argument("--config", help="watch configuration (default: LYTTE_WATCH_CONFIG)")
    p.add_argument("--explain", action="store_true", help="add each token's lexicon value, value as used and the rules")
    p.set_defaults(func=cmd_score)

    sentiment = sub.add_parser("sentiment", help="sentiment scoring").add_subparsers(dest="action", required=True)
    p = sentiment.add_parser(
        "eval",
        help="accuracy, macro-F1, recall, Pearson r and posts/s of a labelled file through the worker's scorer",
        description="Reads CSV, JSON Lines or a JSON list with a text and a label (positive/neutral/negative in "
        "any case) or a valence (3 classes by its sign), scores every text as the worker would in the given "
        "language, and prints the figures beside raw VADER's posts/s on the same texts.",
    )
    _labelled_file_arguments(p)
    p.add_argument("--valence-field", help="field of a numeric valence, used instead of a label")
    p.add_argument("--json", action="store_true", help="one JSON object: n, accuracy, macro_f1, recall, ...")
    p.set_defaults(func=cmd_sentiment_eval)
    p = sentiment.add_parser(
        "correct",
        help="an operator's label for one post: an action on the actions topic (who, when, old and new label)",
        description="Finds the post's label, time and text among the brand's latest posts in the live view "
        "(Redis), or takes --old-label and --created-at for a post no longer there, and writes a "
        "correct_sentiment action. The same label as the old one is written as a confirmation.",
    )
    p.add_argument("post_id", help="the post's id as the wall shows it (<source>:<source id>)")
    p.add_argument("--brand", required=True, help="the watched brand the post is about")
    p.add_argument("--label", required=True, choices=["negative", "neutral", "positive"], help="the right label")
    p.add_argument("--by", help="who (default: the login name)")
    p.add_argument("--reason", default="", help="why (kept with the action)")
    p.add_argument("--old-label", choices=["negative", "neutral", "positive"], help="for a post not in the view")
    p.add_argument("--created-at", help="for a post not in the view: its time, ISO 8601 (no zone: UTC)")
    p.add_argument("--text", help="for a post not in the view: its text (an adjustment can learn from it)")
    p.set_defaults(func=cmd_sentiment_correct)
    p = sentiment.add_parser(
        "curve",
        help="accuracy after N corrections per brand: the per-brand adjustment's learning curve on a labelled file",
        description="Per brand, draws N posts as corrections, trains the brand's adjustment on them and scores the "
        "brand's other posts with the base scorer and with the adjustment: accuracy and macro-F1, the mean over "
        "the draws, overall and per brand. Nothing trained is kept.",
    )
    _labelled_file_arguments(p)
    p.add_argument("--brand-field", default="brand", help="field of the brand (default: brand)")
    p.add_argument("--n", default="100,300,1000", help="corrections per brand, comma-separated (default 100,300,1000)")
    p.add_argument("--repeats", type=int, default=3, help="random draws per N, averaged (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="one JSON object: overall and per brand, per N")
    p.set_defaults(func=cmd_sentiment_curve)

    ingest = sub.add_parser("ingest", help="run a source").add_subparsers(dest="source", required=True)
    p = ingest.add_parser("replay", help="replay a JSON Lines (Post schema) or CSV file")
    p.add_argument("file")
    p.add_argument(
        "--speed", type=float, default=0.0, help="send S times faster than recorded; 0 = as fast as possible (default)"
    )
    p.add_argument(
        "--keep-time",
        action="store_true",
        help="keep the recorded timestamps (history into its own topics) instead of moving the last post to now",
    )
    p.add_argument("--columns", help="CSV mapping FIELD=COLUMN,... (default: the airline tweets' columns)")
    p.add_argument("--limit", type=int, help="send at most this many posts")
    p.set_defaults(func=cmd_replay)
    p = ingest.add_parser("synth", help="generate realistic posts with a scripted incident")
    p.add_argument("--config", help="watch configuration (default: LYTTE_WATCH_CONFIG)")
    p.add_argument("--rate", type=float, default=8.0, help="posts per second (default 8)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--incident-at", type=float, default=3.0, help="minute the negative surge starts (default 3; < 0: in history)"
    )
    p.add_argument("--history", type=float, default=0.0, help="first send this many minutes of the past, at once")
    p.add_argument("--duration", type=float, help="stop this many minutes after now (0: the history only)")
    p.add_argument("--day-night", action="store_true", help="the rate follows a day (x0.25 at 03 UTC, x1.75 at 15)")
    p.add_argument("--incident-minutes", type=float, default=5.0)
    p.add_argument("--no-incident", action="store_true")
    p.add_argument("--limit", type=int, help="stop after this many posts")
    p.add_argument("--fast", action="store_true", help="send as fast as possible (timestamps stay spaced)")
    p.set_defaults(func=cmd_synth)
    for module in SOURCE_MODULES:
        importlib.import_module(module).add_cli(ingest)

    p = sub.add_parser("kafka", help="the local Kafka broker")
    p.add_argument("action", choices=["fetch", "start"])
    p.set_defaults(func=cmd_kafka)
    p = sub.add_parser("redis", help="the local redis-server")
    p.add_argument("action", choices=["start"])
    p.set_defaults(func=cmd_redis)
    p = sub.add_parser("topics", help="create or list lytte's Kafka topics")
    p.add_argument("action", choices=["create", "list"])
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("bench", help="end-to-end benchmark against real Kafka and Redis")
    p.add_argument("-n", type=int, default=100_000, help="posts of the mixed and hot runs (default 100,000)")
    p.add_argument("--modes", default="mixed,hot,steady,alerts", help="which runs, comma-separated (default: all four)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: as many as `lytte up`)")
    p.add_argument("--steady-rate", type=float, default=1000.0, help="posts/s of the steady run (default 1,000)")
    p.add_argument("--steady-seconds", type=float, default=60.0, help="length of the steady run (default 60)")
    p.add_argument("--profile", type=Path, metavar="DIR", help="py-spy each worker in the mixed run into DIR")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser(
        "soak",
        help="does the worker's state stay flat over many state horizons? (exit 1 if not)",
        description="Streams synth posts dated now through one worker with a 120 s state horizon and samples "
        "its RSS, live table entries and changelog bytes; 24 minutes at a 2-minute horizon stand for 24 hours "
        "at a 2-hour horizon. Exit 1 when a series grows from the middle to the last third of the run.",
    )
    p.add_argument("--minutes", type=float, default=24.0, help="length of the stream (default 24: twelve horizons)")
    p.add_argument("--rate", type=float, default=300.0, help="synth posts per second (default 300)")
    p.add_argument("--sample-s", type=float, default=30.0, help="seconds between samples (default 30)")
    p.add_argument("--out", help="write the samples to this CSV file")
    p.set_defaults(func=cmd_soak)
    alerts = sub.add_parser("alerts", help="what is firing; silence, acknowledge, resolve; test a receiver")
    actions = alerts.add_subparsers(dest="action", required=True)
    p = actions.add_parser("list", help="firing alerts, open incidents and silences (from Kafka)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_alerts)
    p = actions.add_parser("silence", help="stop notifying alerts whose labels match, for a while, with a reason")
    p.add_argument("--match", action="append", metavar="NAME=VALUE", help="label matcher (=, !=, =~, !~); repeatable")
    p.add_argument("--for", dest="duration", default="2h", help="how long (90m, 2h, 1d; default 2h)")
    p.add_argument("--reason", required=True, help="why (shown with the silence)")
    p.add_argument("--by", help="who (default: the login name)")
    p.set_defaults(func=cmd_alerts)
    p = actions.add_parser("unsilence", help="end a silence now")
    p.add_argument("silence", help="the silence id (lytte alerts list)")
    p.add_argument("--by", help="who (default: the login name)")
    p.set_defaults(func=cmd_alerts)
    for name, what in (
        ("ack", "acknowledge an alert or an incident: no more repeats"),
        ("resolve", "close an alert or an incident"),
    ):
        p = actions.add_parser(name, help=what)
        p.add_argument("target", help="alert fingerprint or incident id")
        p.add_argument("--reason", default="")
        p.add_argument("--by", help="who (default: the login name)")
        p.set_defaults(func=cmd_alerts)
    p = actions.add_parser("inbound", help="serve PagerDuty's incident webhooks: acks and resolutions become actions")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback only)")
    p.add_argument("--port", type=int, default=8061)
    p.set_defaults(func=cmd_alerts)
    p = actions.add_parser("test", help="send one signed test notification to a receiver; exit 1 unless delivered")
    p.add_argument("--receiver", required=True)
    p.set_defaults(func=cmd_alerts)

    rules = sub.add_parser("rules", help="alert rules").add_subparsers(dest="action", required=True)
    p = rules.add_parser(
        "backtest",
        help="run a rule over a CSV of timestamp,value rows; one JSON line per alert",
        description="Runs the same rule code the worker runs, causally (a decision at a row uses only that row "
        "and earlier ones), over counts per interval (any regular interval; timestamps without a zone are UTC).",
    )
    p.add_argument("--series", required=True, help="CSV of timestamp,value rows")
    p.add_argument("--rule", default="volume_spike", help="the rule (default volume_spike)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a rule setting over the default; repeatable")
    p.set_defaults(func=cmd_rules_backtest)
    p = sub.add_parser("schemas", help="write or check the JSON Schema files")
    p.add_argument("action", choices=["write", "check"])
    p.set_defaults(func=cmd_schemas)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UsageError, WatchConfigError, ServiceError) as exc:
        print(f"lytte: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
