"""`lytte bench`: throughput, latency and work balance of the worker against a real Kafka broker and Redis.

One run starts a local broker and Redis (unless configured) and runs each mode on its own topics, app id and
Redis prefix, with its own `lytte worker` processes (one consumer group):

- `mixed`: the synth source's posts, as varied as a real stream, produced all at once; end-to-end posts/s
  against raw VADER posts/s on the same texts in this process, latency, optionally a py-spy profile;
- `hot`: the same, with every post about the first watched brand; posts/s and the work per raw partition;
- `steady`: posts produced at a fixed rate; produce-to-Redis latency when the worker is not flooded.

Modules: `services` (broker, Redis, workers), `modes` (the modes), `latency` (the change notices),
`profile` (py-spy and the breakdown per step), `run` (the whole run and its last line).
"""
