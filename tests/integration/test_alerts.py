"""Alerts end to end on a real broker, Redis and HTTP receiver: synth history through a worker, the alert
engine, the dispatcher and signed webhook delivery."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import yaml

from schemas.alerts import Alert, Incident
from schemas.redis_keys import RedisKeys
from schemas.topics import Topic
from tests.fixtures.factories import REPO
from tests.fixtures.receivers import SECRET
from tests.fixtures.workers import counters, read_topic, wait_until

pytestmark = pytest.mark.integration

SECRET_ENV = "LYTTE_TEST_WEBHOOK_SECRET"


def alerting_config(tmp_path: Path, receiver_url: str) -> Path:
    """The shipped watch file plus one signed webhook receiver on loopback, notified at once (group_wait 0)
    and on every change a second later (group_interval 1 s), so that the test need not wait minutes."""
    config = yaml.safe_load((REPO / "config" / "watch.yaml").read_text())
    config["alerts"] = {
        "receivers": [{"name": "oncall", "type": "webhook", "url": receiver_url, "secret_env": SECRET_ENV}],
        "route": {
            "receiver": "oncall",
            "group_by": ["brand"],
            "group_wait_s": 0,
            "group_interval_s": 1,
            "repeat_interval_s": 3600,
        },
        "allow_hosts": ["127.0.0.1"],
    }
    path = tmp_path / "watch.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def records(settings, topic: Topic, model) -> list:
    return [model.model_validate_json(r.value) for r in read_topic(settings, topic.name(settings.topic_prefix))]


def run_synth(spawn, settings, *args: str) -> int:
    """Send synth history (nothing live); returns how many posts it sent."""
    synth = spawn(settings, "ingest", "synth", "--duration", "0", "--rate", "0.5", *args, name="synth")
    assert synth.proc.wait(180) == 0, synth.output()
    return int(re.search(r"sent (\d+) posts", synth.output()).group(1))


def test_the_synth_incident_fires_groups_notifies_and_resolves(
    services_settings, spawn, webhook_receiver, redis_client, tmp_path, monkeypatch
):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    settings = services_settings.model_copy(update={"watch_config": alerting_config(tmp_path, webhook_receiver.url)})
    worker = spawn(settings, "worker", env={SECRET_ENV: SECRET})
    # four hours of calm history (the rules' warm-up is three), a five-minute surge two hours ago, then calm: the
    # key person's alert resolves an hour after her last post, the incident half an hour after that
    run_synth(spawn, settings, "--history", "360", "--incident-at", "-125", "--incident-minutes", "5")

    def incident_resolved() -> bool:
        return any(i.status == "resolved" for i in records(settings, Topic.INCIDENTS, Incident))

    wait_until(incident_resolved, 120, "the incident to resolve", worker)
    alerts = records(settings, Topic.ALERTS, Alert)
    fired = sorted((a.brand, a.rule, a.labels.get("person", "")) for a in alerts if a.status == "firing")
    assert fired == [
        ("nordair", "key_person", "ingrid_news"),
        ("nordair", "negative_surge", ""),
        ("nordair", "volume_spike", ""),
    ]
    resolved = sorted((a.brand, a.rule, a.labels.get("person", "")) for a in alerts if a.status == "resolved")
    assert resolved == fired, "every alert resolves after the surge"
    surge = next(a for a in alerts if a.rule == "negative_surge")
    assert surge.evidence.value >= 2 * surge.evidence.baseline and surge.evidence.top_posts  # the rule's ratio
    incidents = records(settings, Topic.INCIDENTS, Incident)
    assert len({i.id for i in incidents}) == 1, "one incident"
    assert set(incidents[-1].alerts) == {a.fingerprint for a in alerts}

    def resolved_notified() -> bool:
        bodies = webhook_receiver.bodies()
        return bool(bodies) and bodies[-1]["status"] == "resolved"

    wait_until(resolved_notified, 30, "the resolved notification", worker)
    assert webhook_receiver.refused == 0, "every request carried a valid signature"
    ids = webhook_receiver.webhook_ids()
    assert len(ids) == len(set(ids)), "each notification once"
    # the history passes in seconds of wall-clock time, and the dispatcher groups on the wall clock: which alerts
    # share a notification depends on the machine's speed (the dispatcher's own tests pin the semantics)
    bodies = webhook_receiver.bodies()
    notified = {(a["labels"]["brand"], a["labels"]["alertname"]) for body in bodies for a in body["alerts"]}
    assert notified and notified <= {(brand, rule) for brand, rule, _ in fired}
    first = bodies[0]
    assert (first["version"], first["receiver"], first["groupLabels"]) == ("4", "oncall", {"brand": "nordair"})
    assert first["status"] == "firing" and all(a["status"] == "resolved" for a in bodies[-1]["alerts"])

    keys = RedisKeys(settings.redis_prefix)
    assert redis_client.hlen(keys.alerts_firing) == 0
    (incident,) = [orjson.loads(v) for v in redis_client.hvals(keys.incidents)]
    assert incident["status"] == "resolved"
    assert redis_client.zcard(keys.alerts_history) == len(alerts)


def test_a_calm_day_with_a_day_night_rhythm_fires_nothing(
    services_settings, spawn, tmp_path, webhook_receiver, redis_client
):
    settings = services_settings.model_copy(update={"watch_config": alerting_config(tmp_path, webhook_receiver.url)})
    worker = spawn(settings, "worker", env={SECRET_ENV: SECRET})
    # 25 hours at 0.5 posts/s, a quarter of it at night: the first three hours are the rules' warm-up
    sent = run_synth(spawn, settings, "--history", str(25 * 60), "--no-incident", "--day-night")
    # bounds for a loaded machine: 45,000 posts took up to 177 s beside a busy test run (about 15 s when quiet)
    wait_until(lambda: counters(redis_client, settings)["posts_in"] == sent, 420, "every post counted", worker)
    signals = read_topic(settings, Topic.SIGNALS.name(settings.topic_prefix))
    assert signals, "the worker told the engine"
    wait_until(lambda: engine_caught_up(settings, len(signals)), 120, "the engine to apply every signal", worker)
    assert records(settings, Topic.ALERTS, Alert) == []
    assert webhook_receiver.bodies() == []


def engine_caught_up(settings, n_signals: int) -> bool:
    """The engine's saved state (the newest complete save in its changelog) has applied the last signal."""
    from streams.agents import engine_snapshot

    table = {}
    for record in read_topic(settings, f"{settings.app_id}-alert-engine-changelog"):
        table[orjson.loads(record.key)] = None if record.value is None else orjson.loads(record.value)
    state, _ = engine_snapshot.decode({k: v for k, v in table.items() if v is not None})
    return state is not None and state["applied_offset"] >= n_signals - 1


def test_operators_list_silence_resolve_and_acknowledge_from_the_cli(
    services_settings, spawn, tmp_path, webhook_receiver, redis_client
):
    from datetime import UTC, datetime

    from schemas.records import Author, Post, Source
    from streams.sources.producer import PostProducer

    settings = services_settings.model_copy(update={"watch_config": alerting_config(tmp_path, webhook_receiver.url)})
    worker = spawn(settings, "worker", env={SECRET_ENV: SECRET})

    def key_person_post(handle: str, n: int) -> Post:
        return Post(
            source=Source.SYNTH,
            source_id=f"cli-{n}",
            created_at=datetime.now(UTC),
            text=f"@nordair is down again ({n})",
            author=Author(id=handle, handle=handle, followers=250_000),
        )

    def cli(*args: str) -> str:
        child = spawn(settings, "alerts", *args, name="cli")
        assert child.proc.wait(60) == 0, child.output()
        return child.output()

    def notified(person: str) -> bool:
        return any(a["labels"].get("person") == person for b in webhook_receiver.bodies() for a in b["alerts"])

    with PostProducer(settings) as producer:
        producer.send(key_person_post("ingrid_news", 1))
    wait_until(lambda: notified("ingrid_news"), 60, "the key person's alert notified", worker)
    listed = orjson.loads(cli("list", "--json"))
    (firing,) = listed["firing"]
    assert (firing["labels"]["alertname"], firing["labels"]["person"]) == ("key_person", "ingrid_news")
    (incident,) = listed["incidents"]

    cli("silence", "--match", "brand=nordair", "--for", "1h", "--reason", "known outage", "--by", "ana")
    cli("ack", incident["id"], "--by", "ana")
    with PostProducer(settings) as producer:
        producer.send(key_person_post("travelwithtom", 2))

    def tom_fired() -> bool:
        return any(a.labels.get("person") == "travelwithtom" for a in records(settings, Topic.ALERTS, Alert))

    wait_until(tom_fired, 60, "the second key person's alert", worker)
    cli("resolve", firing["fingerprint"], "--by", "ana")

    def resolved_by_hand() -> bool:
        return any(
            a.status == "resolved" and a.annotations.get("resolved_by") == "ana"
            for a in records(settings, Topic.ALERTS, Alert)
        )

    wait_until(resolved_by_hand, 60, "the alert resolved by hand", worker)
    assert not notified("travelwithtom"), "a silenced alert is not notified"
    listed = orjson.loads(cli("list", "--json"))
    assert [a["labels"]["person"] for a in listed["firing"]] == ["travelwithtom"]
    assert incident["id"] in listed["acked"] and len(listed["silences"]) == 1
    keys = RedisKeys(settings.redis_prefix)  # what the wall reads: the acknowledgement and the silence
    assert orjson.loads(redis_client.hget(keys.acks, incident["id"]))["by"] == "ana"
    assert [orjson.loads(v)["comment"] for v in redis_client.hvals(keys.silences)] == ["known outage"]
    worker.proc.terminate()
    assert worker.proc.wait(15) is not None, "a worker stops on SIGTERM (it once waited for the kill)"


def test_a_worker_killed_with_a_pending_delivery_resumes_it_under_the_same_webhook_id(
    services_settings, spawn, tmp_path, webhook_receiver
):
    from datetime import UTC, datetime

    from schemas.alerts import Delivery
    from schemas.records import Author, Post, Source
    from streams.sources.producer import PostProducer

    settings = services_settings.model_copy(update={"watch_config": alerting_config(tmp_path, webhook_receiver.url)})
    webhook_receiver.answer = 503  # the receiver is down
    worker = spawn(settings, "worker", env={SECRET_ENV: SECRET})
    with PostProducer(settings) as producer:
        producer.send(
            Post(
                source=Source.SYNTH,
                source_id="pending-1",
                created_at=datetime.now(UTC),
                text="@nordair lost my bag",
                author=Author(id="ingrid_news", handle="ingrid_news", followers=250_000),
            )
        )

    def deliveries() -> list[Delivery]:
        return records(settings, Topic.DELIVERIES, Delivery)

    wait_until(lambda: any(d.state == "retrying" for d in deliveries()), 60, "a failed attempt, to retry", worker)
    worker.kill9()
    (webhook_id,) = {d.webhook_id for d in deliveries()}
    webhook_receiver.answer = 200  # back
    worker = spawn(settings, "worker", env={SECRET_ENV: SECRET})
    wait_until(lambda: webhook_id in webhook_receiver.webhook_ids(), 90, "the notification, resumed", worker)
    wait_until(lambda: deliveries()[-1].state == "delivered", 30, "the delivery recorded", worker)
    assert set(webhook_receiver.webhook_ids()) == {webhook_id}, "the same notification, under the same id"
    assert webhook_receiver.refused == 0
