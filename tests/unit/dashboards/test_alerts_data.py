"""The alert console's data and actions: the board folded from the Redis view (acks of the current episode only,
incident acks, silences), the actions the console makes (by the user, from the dashboard, unknown targets refused),
the silence form's matchers, a bounded writer; and the page's action callback: a viewer's click is refused on the
server before anything is read or written.

The tests marked integration read a real redis-server (and one writes to the session's Kafka broker)."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict
from flask import Flask

from dashboards import alerts_data, auth, live
from dashboards import console_ids as cid
from dashboards.data import LiveView
from schemas.alerts import (
    Action,
    Alert,
    AlertEvidence,
    EvidenceBucket,
    Incident,
    Matcher,
    Silence,
    fingerprint,
)
from schemas.records import TopPost
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


# ---- records --------------------------------------------------------------------------------------------


def alert(
    rule: str = "volume_spike",
    brand: str = "nordair",
    severity: str = "critical",
    status: str = "firing",
    starts: datetime = NOW - timedelta(minutes=10),
    at: datetime | None = None,
    text: str = "@nordair lost my bag",
    url: str | None = "https://example.com/p/1",
    **labels: str,
) -> Alert:
    all_labels = {"alertname": rule, "brand": brand, "severity": severity, **labels}
    evidence = AlertEvidence(
        window_start=starts - timedelta(minutes=3),
        window_end=starts,
        value=120,
        baseline=30.5,
        score=6.25,
        threshold=4,
        buckets=tuple(
            EvidenceBucket(start=starts - timedelta(minutes=3 - i), posts=10 * (i + 1), reposts=i, negative=i)
            for i in range(3)
        ),
        top_posts=(
            TopPost(post_id="x:1", author_handle="ingrid_news", reach=250_000, compound=-0.6, text=text, url=url),
        ),
        repost_share=0.25,
        unique_authors=42,
        amplification="organic",
        post_ids=("x:1", "x:2"),
    )
    return Alert(
        fingerprint=fingerprint(all_labels),
        status=status,
        labels=all_labels,
        annotations={"summary": f"{brand}: {rule}"},
        starts_at=starts,
        ends_at=None if status == "firing" else at,
        event_time=at or starts,
        evidence=evidence,
    )


def incident(alerts: list[Alert], status: str = "opened", opened: datetime = NOW - timedelta(minutes=10)) -> Incident:
    fps = tuple(a.fingerprint for a in alerts)
    return Incident(
        id=f"{alerts[0].brand}:{int(opened.timestamp())}",
        brand=alerts[0].brand,
        status=status,
        opened_at=opened,
        updated_at=opened,
        resolved_at=opened + timedelta(minutes=30) if status == "resolved" else None,
        severity="critical",
        alerts=fps,
        firing=() if status == "resolved" else fps,
    )


def ack_of(target: Alert | Incident, at: datetime = NOW, by: str = "ana") -> Action:
    if isinstance(target, Alert):
        return Action(id=f"a-{uuid.uuid4().hex}", kind="ack", at=at, by=by, fingerprint=target.fingerprint)
    return Action(id=f"a-{uuid.uuid4().hex}", kind="ack", at=at, by=by, incident=target.id)


def silence_of(*matchers: str, ends: datetime = NOW + timedelta(hours=1)) -> Silence:
    return Silence(
        id=f"silence-{uuid.uuid4().hex[:8]}",
        matchers=tuple(Matcher.parse(m) for m in matchers),
        starts_at=NOW - timedelta(minutes=1),
        ends_at=ends,
        created_by="ana",
        comment="known outage",
    )


# ---- the board ------------------------------------------------------------------------------------------


def test_records_that_do_not_read_are_skipped_and_counted():
    s = silence_of("brand=nordair")
    assert alerts_data.parse_records([s.model_dump_json().encode(), b"not json", b"{}"], Silence) == ([s], 2)


def test_the_board_takes_each_alerts_newest_record_and_the_firing_set_last():
    fired = alert(at=NOW - timedelta(minutes=10))
    resolved = alert(status="resolved", at=NOW - timedelta(minutes=2))
    board = alerts_data.fold_board([], [resolved, fired], [], [], [])  # history is newest first
    assert board.alerts[fired.fingerprint].status == "resolved"
    again = alert(starts=NOW - timedelta(minutes=1))
    board = alerts_data.fold_board([again], [resolved, fired], [], [], [])
    assert board.alerts[fired.fingerprint] == again


def test_a_resolve_by_hand_at_the_firings_own_event_time_counts_as_the_later_record():
    fired = alert(at=NOW - timedelta(minutes=10))
    resolved = alert(status="resolved", at=NOW - timedelta(minutes=10))
    for history in ([resolved, fired], [fired, resolved]):
        assert alerts_data.fold_board([], history, [], [], []).alerts[fired.fingerprint].status == "resolved"


def test_an_ack_covers_the_current_episode_only():
    first = alert(starts=NOW - timedelta(hours=2))
    acked = ack_of(first, at=NOW - timedelta(hours=2) + timedelta(minutes=5))
    board = alerts_data.fold_board([first], [], [], [acked], [])
    assert alerts_data.ack_for(first, board) == acked
    refired = alert(starts=NOW - timedelta(minutes=10))  # same labels, a new episode
    board = alerts_data.fold_board([refired], [], [], [acked], [])
    assert alerts_data.ack_for(refired, board) is None


def test_an_ack_of_an_open_incident_covers_its_alerts_and_a_resolved_incidents_does_not():
    a, b = alert(), alert("key_person", severity="warning", person="ingrid_news")
    open_ = incident([a, b])
    board = alerts_data.fold_board([a, b], [], [open_], [ack_of(open_, by="ole")], [])
    assert {alerts_data.ack_for(x, board).by for x in (a, b)} == {"ole"}
    closed = open_.model_copy(update={"status": "resolved"})
    board = alerts_data.fold_board([a], [], [closed], [ack_of(closed)], [])
    assert alerts_data.ack_for(a, board) is None


def test_silences_that_match_an_alert():
    a = alert()
    mine, other = silence_of("brand=nordair", "alertname=~volume.*"), silence_of("brand=skyjet")
    assert alerts_data.silences_for(a, [mine, other]) == [mine]


def test_open_incidents_come_first_oldest_first_then_resolved_newest_first():
    a = alert()
    r9 = incident([a], "resolved", NOW.replace(hour=9))
    o11 = incident([a], "opened", NOW.replace(hour=11))
    o10 = incident([a], "updated", NOW.replace(hour=10))
    r12 = incident([a], "resolved", NOW.replace(hour=12))
    assert alerts_data.incidents_in_order([r9, o11, o10, r12]) == [o10, o11, r12, r9]


def test_a_history_row_id_names_the_transition():
    a = alert(starts=datetime(2024, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC))
    assert alerts_data.history_row_id(a) == f"{a.fingerprint}@1709294400250:firing"


# ---- actions ------------------------------------------------------------------------------------------------


def board_with(*alerts: Alert, incidents=(), silences=()):
    return alerts_data.fold_board(
        [a for a in alerts if a.status == "firing"], list(alerts), list(incidents), [], list(silences)
    )


def test_an_ack_of_a_firing_alert_is_made_by_the_user_from_the_dashboard():
    a = alert()
    action = alerts_data.ack(a.fingerprint, board_with(a), "ana", NOW, " on it ")
    assert (action.kind, action.fingerprint, action.brand, action.by, action.at) == (
        "ack",
        a.fingerprint,
        "nordair",
        "ana",
        NOW,
    )
    assert (action.origin, action.reason) == ("dashboard", "on it")


def test_unknown_or_ended_targets_are_refused():
    a = alert()
    with pytest.raises(alerts_data.ActionRefused, match="no alert"):
        alerts_data.ack("0123456789abcdef", board_with(a), "ana", NOW)
    with pytest.raises(alerts_data.ActionRefused, match="is not"):
        alerts_data.ack("nonsense", board_with(a), "ana", NOW)
    gone = alert(status="resolved", at=NOW)
    with pytest.raises(alerts_data.ActionRefused, match="not firing"):
        alerts_data.resolve(gone.fingerprint, board_with(gone), "ana", NOW)


def test_incidents_are_acknowledged_and_resolved_while_open():
    a = alert()
    i = incident([a])
    board = board_with(a, incidents=[i])
    acked = alerts_data.ack(i.id, board, "ana", NOW)
    assert (acked.kind, acked.incident, acked.brand) == ("ack", i.id, "nordair")
    resolved = alerts_data.resolve(i.id, board, "ana", NOW, "handled")
    assert (resolved.kind, resolved.incident, resolved.brand, resolved.reason) == (
        "resolve",
        i.id,
        "nordair",
        "handled",
    )
    Action.model_validate_json(resolved.model_dump_json())  # a valid record on the topic
    closed = incident([a], "resolved")
    with pytest.raises(alerts_data.ActionRefused, match="already resolved"):
        alerts_data.resolve(closed.id, board_with(a, incidents=[closed]), "ana", NOW)


def test_a_silence_from_the_form():
    action = alerts_data.silence("brand=nordair\n\n  alertname=key_person \n", "2h", "known outage", "ana", NOW)
    s = action.silence
    assert [(m.name, m.value) for m in s.matchers] == [("brand", "nordair"), ("alertname", "key_person")]
    assert (s.starts_at, s.ends_at, s.created_by, s.comment) == (NOW, NOW + timedelta(hours=2), "ana", "known outage")
    assert (action.kind, action.brand, action.origin) == ("silence", "nordair", "dashboard")


@pytest.mark.parametrize(
    ("matchers", "duration", "reason", "says"),
    [
        ("", "2h", "why", "at least one matcher"),
        ("brand=nordair", "2h", "  ", "needs a reason"),
        ("brand=nordair", "2 hours", "why", "expected a number"),
        ("brand", "2h", "why", "bad matcher"),
        ("brand=~(", "2h", "why", "bad matcher"),
    ],
)
def test_a_silence_form_with_a_mistake_says_what_to_fix(matchers, duration, reason, says):
    with pytest.raises(alerts_data.ActionRefused, match=says):
        alerts_data.silence(matchers, duration, reason, "ana", NOW)


def test_a_silence_is_expired_only_when_known():
    s = silence_of("brand=nordair")
    action = alerts_data.expire(s.id, board_with(silences=[s]), "ana", NOW)
    assert (action.kind, action.silence_id, action.by, action.origin) == ("expire_silence", s.id, "ana", "dashboard")
    with pytest.raises(alerts_data.ActionRefused, match="no silence"):
        alerts_data.expire("silence-nope", board_with(silences=[s]), "ana", NOW)


@pytest.mark.parametrize("value", ["nordair", "", " padded ", "~x", '"quoted"', "a=b", "it's", "!x"])
def test_a_matcher_line_reads_back_as_the_label(value):
    parsed = Matcher.parse(alerts_data.matcher_line("person", value))
    assert (parsed.name, parsed.op, parsed.value) == ("person", "=", value)


def test_the_form_is_prefilled_with_every_label_alertname_and_brand_first():
    labels = {"severity": "warning", "brand": "nordair", "alertname": "key_person", "person": "ingrid_news"}
    assert alerts_data.matchers_text(labels) == (
        "alertname=key_person\nbrand=nordair\nperson=ingrid_news\nseverity=warning"
    )
    assert alerts_data.matchers_text({"brand": "nordair", "note": "two\nlines"}) == "brand=nordair"


def test_a_failure_is_one_short_line():
    from kafka.errors import KafkaTimeoutError

    assert alerts_data.failure(KafkaTimeoutError("Unable to bootstrap")) == "KafkaTimeoutError: Unable to bootstrap"
    assert alerts_data.failure(ValueError("x" * 500)) == ("ValueError: " + "x" * 500)[:160]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_writer_gives_up_within_its_bound_when_kafka_is_unreachable():
    writer = alerts_data.ActionWriter(f"127.0.0.1:{free_port()}", "t.actions")
    writer.TIMEOUT_S = 1.0
    action = alerts_data.silence("brand=nordair", "1h", "test", "ana", NOW)
    started = time.monotonic()
    with pytest.raises(alerts_data.ActionNotWritten) as raised:
        writer.write(action)
    assert time.monotonic() - started < 4 * writer.TIMEOUT_S
    assert raised.value.maybe_sent is False and "KafkaTimeoutError" in str(raised.value)


# ---- the page's action callback ---------------------------------------------------------------------------


@pytest.fixture
def clicked():
    """Run a callback as Dash would after a click on `button` (its callback context), in a Flask request."""
    tokens = []

    def click(button: str):
        tokens.append(
            context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{button}.n_clicks", "value": 1}]))
        )

    app = Flask(__name__)
    with app.test_request_context("/_dash-update-component", method="POST"):
        yield click
    for token in reversed(tokens):
        context_value.reset(token)


class Recorder:
    def __init__(self) -> None:
        self.written: list[Action] = []

    def write(self, action: Action) -> None:
        self.written.append(action)


@pytest.fixture(scope="module", autouse=True)
def dash_app():
    """The pages register themselves with an app: make one (it connects to nothing until asked)."""
    from dashboards.app import create_app

    before = live.view
    create_app(Settings(kafka_bootstrap="127.0.0.1:1", redis_url="redis://127.0.0.1:1/0"))
    yield
    live.view = before


def act(button: str, firing=None, incidents=None, silences=None, matchers="", duration="2h", reason=""):
    from dashboards.pages import alerts as page

    return page.act(1, 1, 1, 1, 1, 1, firing, incidents, silences, "", matchers, duration, reason)


def text_of(component) -> str:
    children = component.children
    return "".join(
        c if isinstance(c, str) else text_of(c) for c in (children if isinstance(children, list) else [children])
    )


@pytest.mark.parametrize("button", list(cid.ACTION_BUTTONS))
def test_a_viewer_is_refused_on_the_server_and_nothing_is_read_or_written(monkeypatch, clicked, button):
    recorder = Recorder()
    monkeypatch.setattr(auth, "current_user", lambda: auth.User("vera", "viewer"))
    monkeypatch.setattr(alerts_data, "writer", lambda: recorder)

    def no_reads(*_a, **_k):
        raise AssertionError("a refused action must not read the view")

    monkeypatch.setattr(alerts_data, "read_console", no_reads)
    clicked(button)
    row = {"id": "0123456789abcdef", "kind": "firing", "rule": "volume_spike", "brand": "nordair"}
    out = act(
        button, firing=[row], incidents=[{"id": "nordair:1"}], silences=[{"id": "s"}], matchers="brand=x", reason="r"
    )
    assert "Refused" in text_of(out) and "operator role" in text_of(out) and "vera is a viewer" in text_of(out)
    assert "alerts-msg--refused" in out.className
    assert recorder.written == []


def test_nobody_signed_in_is_refused_too(monkeypatch, clicked):
    recorder = Recorder()
    monkeypatch.setattr(auth, "current_user", lambda: None)
    monkeypatch.setattr(alerts_data, "writer", lambda: recorder)
    clicked(cid.ACK_ALERT)
    out = act(cid.ACK_ALERT, firing=[{"id": "0123456789abcdef"}])
    assert "not signed in" in text_of(out) and recorder.written == []


@pytest.mark.parametrize(("role", "disabled"), [("viewer", True), ("operator", False), ("supervisor", False)])
def test_a_viewers_buttons_are_disabled_in_the_layout(monkeypatch, role, disabled):
    from dashboards.pages import alerts as page

    monkeypatch.setattr(auth, "current_user", lambda: auth.User("u", role))
    layout = page.layout()
    buttons = {}
    stack = [layout]
    while stack:
        c = stack.pop()
        if getattr(c, "id", None) in cid.ACTION_BUTTONS:
            buttons[c.id] = c.disabled
        children = getattr(c, "children", None)
        stack += [x for x in (children if isinstance(children, list) else [children]) if hasattr(x, "to_plotly_json")]
    assert buttons == dict.fromkeys(cid.ACTION_BUTTONS, disabled)
    assert ("Read only" in str(layout.to_plotly_json())) is disabled


def test_the_status_line_counts_what_is_shown():
    from dashboards.pages import alerts as page

    a = alert()
    i = incident([a])
    board = alerts_data.fold_board([a], [a], [i], [], [])
    view = alerts_data.ConsoleView([a], [i], [a], [], {}, board, NOW, skipped=2)
    line = page.status_line(view)
    assert (
        line.children
        == "1 firing · 1 open incident · 0 silences in force · read 12:00:00 UTC · 2 unreadable records skipped"
    )
    assert line.className == "alerts-read alerts-read--partial"


# ---- real Redis ---------------------------------------------------------------------------------------------


@pytest.fixture
def console_view(redis_client) -> LiveView:
    settings = Settings(redis_prefix=f"u{uuid.uuid4().hex[:8]}", kafka_bootstrap="127.0.0.1:1")
    return LiveView(settings, client=redis_client)


def write_view(view: LiveView, firing, history, incidents=(), acks=(), silences=(), receivers=None) -> None:
    """The view as `RedisSink.write_alerts` lays it out."""
    k: RedisKeys = view.keys
    r = view.redis
    if firing:
        r.hset(k.alerts_firing, mapping={a.fingerprint: a.model_dump_json() for a in firing})
    for a in history:
        r.zadd(k.alerts_history, {a.model_dump_json(): a.event_time.timestamp()})
    for i in incidents:
        r.hset(k.incidents, i.id, i.model_dump_json())
        r.zadd(k.incidents_index, {i.id: i.opened_at.timestamp()})
    for a in acks:
        r.hset(k.acks, a.fingerprint or a.incident, a.model_dump_json())
    for s in silences:
        r.hset(k.silences, s.id, s.model_dump_json())
    for name, status in (receivers or {}).items():
        r.hset(k.receivers, name, orjson.dumps(status))


@pytest.mark.integration
def test_the_console_reads_the_whole_view_in_one_go(console_view):
    a = alert()
    b = alert("key_person", severity="warning", person="ingrid_news")
    old = alert("negative_surge", brand="skyjet", status="resolved", at=NOW - timedelta(minutes=1))
    i = incident([a, b])
    live_silence, ended = silence_of("brand=skyjet"), silence_of("brand=nordair", ends=NOW - timedelta(minutes=1))
    write_view(
        console_view,
        [a, b],
        [a, b, old],
        [i],
        [ack_of(b)],
        [live_silence, ended],
        {"oncall": {"receiver": "oncall", "queued": 2}},
    )
    console_view.redis.hset(console_view.keys.silences, "broken", b"{")
    got = alerts_data.read_console(console_view, NOW)
    assert [x.fingerprint for x in got.firing] == [a.fingerprint, b.fingerprint]  # critical first
    console_view.redis.hdel(console_view.keys.alerts_firing, a.fingerprint)  # history trimmed of its resolution
    assert alerts_data.read_console(console_view, NOW).firing == [b], "the firing set is the truth"
    assert got.history[0] == old and {x.fingerprint for x in got.history[1:]} == {a.fingerprint, b.fingerprint}, (
        "newest transition first"
    )
    assert got.incidents == [i]
    assert got.silences == [live_silence], "an ended silence is not in force"
    assert alerts_data.ack_for(b, got.board).by == "ana" and alerts_data.ack_for(a, got.board) is None
    assert got.receivers == {"oncall": {"receiver": "oncall", "queued": 2}}
    assert got.skipped == 1


@pytest.mark.integration
def test_a_selected_row_finds_its_alert(console_view):
    a = alert()
    fired = alert("key_person", severity="warning", person="tom", at=NOW - timedelta(minutes=20))
    resolved = alert("key_person", severity="warning", person="tom", status="resolved", at=NOW - timedelta(minutes=5))
    write_view(console_view, [a], [a, fired, resolved])
    assert alerts_data.find_alert(console_view, "firing", a.fingerprint) == (a, True)
    assert alerts_data.find_alert(console_view, "firing", fired.fingerprint) == (resolved, False), "resolved since"
    assert alerts_data.find_alert(console_view, "history", alerts_data.history_row_id(fired)) == (fired, False)
    assert alerts_data.find_alert(console_view, "history", alerts_data.history_row_id(a)) == (a, True)
    assert alerts_data.find_alert(console_view, "history", "nonsense") == (None, False)


@pytest.mark.integration
def test_an_operators_click_writes_the_action_with_their_name(monkeypatch, clicked, console_view):
    a = alert()
    write_view(console_view, [a], [a])
    recorder = Recorder()
    monkeypatch.setattr(live, "view", console_view)
    monkeypatch.setattr(auth, "current_user", lambda: auth.User("olga", "operator"))
    monkeypatch.setattr(alerts_data, "writer", lambda: recorder)
    clicked(cid.ACK_ALERT)
    out = act(cid.ACK_ALERT, firing=[{"id": a.fingerprint, "rule": a.rule, "brand": a.brand}])
    assert "Acknowledged volume_spike · nordair as olga" in text_of(out)
    (written,) = recorder.written
    assert (written.kind, written.fingerprint, written.by, written.origin) == (
        "ack",
        a.fingerprint,
        "olga",
        "dashboard",
    )

    clicked(cid.SILENCE)
    out = act(cid.SILENCE, matchers="brand=nordair", duration="30m", reason="")
    assert "needs a reason" in text_of(out) and "Nothing was written" in text_of(out)
    assert len(recorder.written) == 1

    clicked(cid.ACK_INCIDENT)
    out = act(cid.ACK_INCIDENT, incidents=[])
    assert "select an incident first" in text_of(out) and len(recorder.written) == 1


class Down:
    def __init__(self, maybe_sent: bool) -> None:
        self.maybe_sent = maybe_sent

    def write(self, action: Action) -> None:
        raise alerts_data.ActionNotWritten("KafkaTimeoutError: Unable to bootstrap", self.maybe_sent)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("maybe_sent", "says"), [(False, "Not written: Kafka is unreachable"), (True, "Not confirmed")]
)
def test_kafka_trouble_is_a_message_not_a_traceback(monkeypatch, clicked, console_view, maybe_sent, says):
    a = alert()
    write_view(console_view, [a], [a])
    monkeypatch.setattr(live, "view", console_view)
    monkeypatch.setattr(auth, "current_user", lambda: auth.User("olga", "operator"))
    monkeypatch.setattr(alerts_data, "writer", lambda: Down(maybe_sent))
    clicked(cid.RESOLVE_ALERT)
    out = act(cid.RESOLVE_ALERT, firing=[{"id": a.fingerprint, "rule": a.rule, "brand": a.brand}])
    assert says in text_of(out) and "KafkaTimeoutError" in text_of(out)
    assert out.className == "alerts-msg alerts-msg--error"


@pytest.mark.integration
def test_the_writer_writes_what_the_cli_writes(services_settings):
    from schemas.topics import Topic
    from tests.fixtures.workers import read_topic

    topic = Topic.ACTIONS.name(services_settings.topic_prefix)
    writer = alerts_data.ActionWriter(services_settings.bootstrap, topic)
    try:
        a = alert()
        first = alerts_data.ack(a.fingerprint, board_with(a), "ana", NOW)
        second = alerts_data.silence("brand=nordair", "1h", "known", "ana", NOW)
        writer.write(first)
        writer.write(second)  # the same producer
    finally:
        writer.close()
    records = read_topic(services_settings, topic)
    assert [(r.partition, r.key) for r in records] == [(0, b"nordair"), (0, b"nordair")]
    assert [Action.model_validate_json(r.value) for r in records] == [first, second]
