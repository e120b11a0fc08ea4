"""Component ids of the health page (`/health`), in one place: the page, its callbacks and the tests use them."""

PAGE = "health"
#: the shared live tick, let through at most once a second
TICK = "health-tick"
INTERVAL = "health-interval"
VERDICT = "health-verdict"
FIGURES = "health-figures"
WORKERS = "health-workers"
PARTITIONS = "health-partitions"
LAG = "health-lag"
DEADLETTERS = "health-deadletters"
DEADLETTER_VALUE = "health-deadletter-value"
#: the (partition, offset) of the deadletter record shown, as "p:offset"
SELECTED = "health-selected"
WEBHOOKS = "health-webhooks"
SOURCES = "health-sources"

#: pattern-matching id type of a deadletter row: {"type": DEADLETTER_ROW, "key": "p:offset"}
DEADLETTER_ROW = "health-deadletter-row"


def figure(name: str) -> str:
    """The id of one big number: figure("kafka") -> "health-figure-kafka"."""
    return f"health-figure-{name}"


def deadletter_row(key: str) -> dict[str, str]:
    """The id of the row of a deadletter record by its place: deadletter_row("1:7") -> {"type": DEADLETTER_ROW,
    "key": "1:7"}."""
    return {"type": DEADLETTER_ROW, "key": key}
