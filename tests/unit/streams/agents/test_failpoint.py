import asyncio

import pytest

from streams.agents.failpoint import Failpoint


def admitted(spec: str, batches: int) -> bool:
    return asyncio.run(asyncio.wait_for(Failpoint(spec).admit(batches), 0.5))


def test_no_failpoint_admits_every_batch():
    assert admitted("", 0) and admitted("", 10_000)
    assert admitted("hang_after_batches=x", 5), "a value that is not a count switches nothing on"


def test_drop_after_batches_drops_from_the_nth_batch_on():
    assert admitted("drop_after_batches=2", 1)
    assert not admitted("drop_after_batches=2", 2)
    assert not admitted("drop_after_batches=2", 3)


def test_hang_after_batches_never_returns_from_the_nth_batch_on():
    assert admitted("hang_after_batches=2", 1)
    with pytest.raises(TimeoutError):
        admitted("hang_after_batches=2", 2)
