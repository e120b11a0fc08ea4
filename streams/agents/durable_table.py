"""Writing a Faust table key so that its changelog record is really out before the offsets commit, and the
local state only moves once it is.

`table[key] = value` puts the changelog record in faust's send-soon buffer, and the flush before a commit
gives up on that buffer after 0.1 s without progress; a `kill -9` after such a commit loses table updates
whose input is never read again. Here the record goes straight to the producer: `send_changelog` returns
the send's future, the agent gathers and checks the futures of the whole batch, and only then calls
`apply_local`. A value of None is a tombstone: the key is deleted, and the compacted changelog forgets it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import faust


async def send_changelog(table: faust.Table, key: str, value: Any, partition: int) -> Awaitable:
    return await table.changelog_topic.send(
        key=key,
        value=value,
        partition=partition,
        key_serializer=table.key_serializer,
        # a tombstone must be a record without a value, not the JSON text "null"
        value_serializer="raw" if value is None else table.value_serializer,
    )


def apply_local(table: faust.Table, key: str, value: Any) -> None:
    if value is None:
        table.data.pop(key, None)
    else:
        table.data[key] = value
