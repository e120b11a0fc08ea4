"""The alert engine's state in its table: compressed, in chunks that fit a Kafka record, written so that a crash
half-way through a save leaves the previous save whole.

One save is one generation: the state as JSON, zlib-compressed, cut into chunks of at most `CHUNK_BYTES`,
each under the key `engine/<slot>/<index>` with slot = generation % 2. A save never writes into the slot
the newest complete save lives in, so if the worker dies after writing some chunks of generation g, the
chunks of generation g - 1 are still all there, and `decode` takes the newest generation whose chunks are
all present. A Kafka record is capped at about 1 MB (the producer's `max_request_size`, the broker's
`message.max.bytes`); a state that grows with the brands watched and with how far partitions race apart in
a replay must never be refused as one record, which would hold the alert engine's batch forever.

Scenario: a 2.6 MB state compresses to 700 kB -> generation 8 is written as `engine/0/0` and `engine/0/1`;
a crash after `engine/0/0` leaves generation 7 (in slot 1) as the state `decode` returns.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

#: bytes of compressed state per chunk: base64 makes it 4/3 larger, still well under a 1 MB record
CHUNK_BYTES = 384 * 1024
KEY_PREFIX = "engine/"
#: the single key an earlier version saved the whole state under (read as generation -1)
LEGACY_KEY = "engine"


def chunk_key(slot: int, index: int) -> str:
    return f"{KEY_PREFIX}{slot}/{index}"


def encode(state: dict, generation: int, existing: Mapping[str, Any] = {}) -> list[tuple[str, dict | None]]:
    """The table writes of one save, in order: the chunks of `generation`, then tombstones (None) for
    chunks of the same slot an earlier, larger save left beyond the new last chunk.

    Scenario: a state of 900 kB compressed, generation 3 -> [("engine/1/0", {...}), ("engine/1/1", {...}),
    ("engine/1/2", {...})], each value {"generation": 3, "index": i, "chunks": 3, "applied_offset": ...,
    "data": base64}; if `existing` holds "engine/1/3" from generation 1 -> also ("engine/1/3", None)."""
    blob = zlib.compress(orjson.dumps(state), 1)
    pieces = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
    slot = generation % 2
    writes: list[tuple[str, dict | None]] = [
        (
            chunk_key(slot, i),
            {
                "generation": generation,
                "index": i,
                "chunks": len(pieces),
                "applied_offset": state.get("applied_offset"),
                "data": base64.b64encode(piece).decode(),
            },
        )
        for i, piece in enumerate(pieces)
    ]
    stale = sorted(
        int(k.rsplit("/", 1)[1])
        for k in existing
        if k.startswith(f"{KEY_PREFIX}{slot}/") and int(k.rsplit("/", 1)[1]) >= len(pieces)
    )
    return writes + [(chunk_key(slot, i), None) for i in stale]


def decode(data: Mapping[str, Any]) -> tuple[dict | None, int]:
    """(the newest complete state, its generation) from the table's keys; (None, -1) when there is none.

    Scenario: slot 0 holds generation 8 with chunk 1 of 2 missing, slot 1 holds generation 7 whole ->
    (generation 7's state, 7)."""
    best: tuple[dict | None, int] = (data.get(LEGACY_KEY), -1)
    for slot in (0, 1):
        head = data.get(chunk_key(slot, 0))
        if not head or head["generation"] <= best[1]:
            continue
        chunks = [data.get(chunk_key(slot, i)) for i in range(head["chunks"])]
        if any(c is None or c["generation"] != head["generation"] for c in chunks):
            continue  # a save cut short: the other slot has the previous one whole
        blob = b"".join(base64.b64decode(c["data"]) for c in chunks)
        best = (orjson.loads(zlib.decompress(blob)), head["generation"])
    return best
