import base64

from streams.kafka_local.launcher import new_cluster_id


def test_cluster_ids_are_16_bytes_in_base64url():
    for _ in range(200):
        cid = new_cluster_id()
        assert len(cid) == 22
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16
