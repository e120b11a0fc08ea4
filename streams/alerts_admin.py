"""`lytte alerts ...`: what is firing, and the operator's actions (silence, acknowledge, resolve), from a terminal.

Reads and writes Kafka only, so it works while Redis or the dashboard is down: `list` folds the alerts,
incidents and actions topics (the latest record per alert is its state); the actions are records on
`lytte.actions`, which the alert engine's worker applies (the dispatcher stops notifying what is silenced or
acknowledged; a resolve closes the alert, or the incident and its firing alerts). Every Kafka call is bounded.
The board and the actions themselves are made without I/O in `schemas.alert_actions`.
"""

from __future__ import annotations

import getpass
from datetime import datetime

from schemas.alert_actions import AlertBoard, AlertsAdminError
from schemas.alerts import Action, Alert, Incident
from schemas.settings import Settings
from schemas.topics import Topic
from streams.topic_read import TopicReadTimeout, read_all

#: Kafka gets this long to answer a read or a write.
KAFKA_TIMEOUT_S = 10.0


def operator() -> str:
    """Who acts: the login name; "operator" where there is none (a container without a passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


# ---- Kafka ----------------------------------------------------------------------------------------------


def read_board(settings: Settings) -> AlertBoard:
    def load(topic: Topic, model) -> list:
        try:
            records = read_all(settings, topic.name(settings.topic_prefix), KAFKA_TIMEOUT_S, "lytte-alerts")
        except TopicReadTimeout as exc:
            raise AlertsAdminError(str(exc)) from None
        return [model.model_validate_json(r.value) for r in records if r.value is not None]

    return AlertBoard().fold(load(Topic.ALERTS, Alert), load(Topic.INCIDENTS, Incident), load(Topic.ACTIONS, Action))


def write_action(settings: Settings, action: Action) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", request_timeout_ms=int(KAFKA_TIMEOUT_S * 1000)
    )
    try:
        future = producer.send(
            Topic.ACTIONS.name(settings.topic_prefix),
            key=(action.brand or "").encode(),
            value=action.model_dump_json().encode(),
            partition=0,
        )
        future.get(timeout=KAFKA_TIMEOUT_S)
    finally:
        producer.close(timeout=KAFKA_TIMEOUT_S)


# ---- text -----------------------------------------------------------------------------------------------


def board_text(board: AlertBoard, now: datetime) -> list[str]:
    lines = []
    firing = board.firing()
    lines.append(f"firing: {len(firing)}")
    for a in firing:
        extra = " ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "brand", "severity"))
        acked = board.acked.get(a.fingerprint)
        lines.append(
            f"  {a.fingerprint}  {a.severity.value:<8} {a.brand:<14} {a.rule:<15} since {_ago(a.starts_at, now)}"
            + (f"  {extra}" if extra else "")
            + (f"  (acked by {acked.by})" if acked else "")
        )
        summary = a.annotations.get("summary")
        if summary:
            lines.append(f"      {summary}")
    incidents = board.open_incidents()
    lines.append(f"open incidents: {len(incidents)}")
    for i in incidents:
        acked = board.acked.get(i.id)
        lines.append(
            f"  {i.id}  {i.severity.value:<8} {len(i.firing)} firing of {len(i.alerts)}  {i.summary}"
            + (f"  (acked by {acked.by})" if acked else "")
        )
    silences = board.active_silences(now)
    lines.append(f"silences: {len(silences)}")
    for s in silences:
        matchers = ", ".join(f"{m.name}{m.op}{m.value}" for m in s.matchers)
        lines.append(f"  {s.id}  {matchers}  until {s.ends_at:%Y-%m-%d %H:%M} UTC  by {s.created_by}: {s.comment}")
    return lines


def _ago(at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago ({at:%Y-%m-%d %H:%M} UTC)"
