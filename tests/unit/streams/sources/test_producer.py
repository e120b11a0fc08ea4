"""The sources' producer: its waits are bounded, and it partitions as every other producer of posts.raw."""

import pytest
from confluent_kafka import KafkaException

from schemas.settings import Settings
from streams.local.processes import free_port
from streams.sources.producer import PostProducer


def test_flush_gives_up_after_its_limit_when_no_broker_answers(tmp_path):
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", redis_url="redis://127.0.0.1:1/0", home=tmp_path)
    producer = PostProducer(settings)
    producer.send_raw(b"x:1", b"{}")
    with pytest.raises(KafkaException, match="undelivered after 2 s"):
        producer.flush(limit_s=2.0)
    assert producer.sent == 1
