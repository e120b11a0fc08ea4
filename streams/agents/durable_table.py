"""Writing a Faust table key so that its changelog record is really out before the offsets commit, and the
local state only moves once it is.

`table[key] = value` puts the changelog record in faust's send-soon buffer, and the flush before a commit
gives up on that buffer after 0.1 s without progress; a `kill -9` after such a commit loses table updates
whose input is never read again. Here the record goes straight to the producer (`changelog_record` gives
what to send), the agent gathers and checks the futures of the whole batch, and only then calls
`apply_local`. A value of None is a tombstone: the key is deleted, and the compacted changelog forgets it.

Keys and values are JSON (the tables' `json` serializer reads them back at recovery); orjson writes them.
"""

from __future__ import annotations

from typing import Any

import faust
import orjson


def changelog_record(table: faust.Table, key: str, value: Any) -> tuple[str, bytes, bytes | None]:
    """(changelog topic, key bytes, value bytes) for one table write: ("k", [1, 2]) -> (..., b'"k"', b"[1,2]");
    a tombstone (value None) is a record without a value, not the JSON text "null"."""
    return table.changelog_topic.get_topic_name(), orjson.dumps(key), None if value is None else orjson.dumps(value)


def apply_local(table: faust.Table, key: str, value: Any) -> None:
    if value is None:
        table.data.pop(key, None)
    else:
        table.data[key] = value
