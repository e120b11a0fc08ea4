"""Writing a Faust table key so that its changelog record is really out before the offsets commit.

`table[key] = value` puts the changelog record in faust's send-soon buffer, and the flush before a commit
gives up on that buffer after 0.1 s without progress; a `kill -9` after such a commit loses table updates
whose input is never read again. Here the record goes straight to the producer (awaited), whose flush
before every commit does wait for everything it holds.
"""

from __future__ import annotations

from typing import Any

import faust


async def save(table: faust.Table, key: str, value: Any, partition: int) -> None:
    table.data[key] = value  # the local store only: no send-soon changelog record
    await table.changelog_topic.send(
        key=key,
        value=value,
        partition=partition,
        key_serializer=table.key_serializer,
        value_serializer=table.value_serializer,
    )
