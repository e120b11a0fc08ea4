"""The embedded default: local Kafka and Redis launchers, child processes, and `lytte up`'s supervisor."""
