"""How long a source waits before it connects again: never a tight loop, always a bound.

A `Backoff` is a pure schedule; the source sleeps what `next()` says and calls `reset()` once a connection
has delivered something. X documents three schedules for its streams, which the other providers' clients
follow in spirit: linear for network errors, exponential for HTTP errors, exponential from a minute for 429.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Scenarios:
    - linear(0.25, 16): 0.25, 0.5, 0.75, ... 16, 16 (X: network errors);
    - exponential(5, 320): 5, 10, 20, 40, 80, 160, 320, 320 (X: HTTP errors);
    - exponential(60, 960): 60, 120, ... (X: 429 Too Many Requests);
    - after `reset()` the next wait is the first again.
    """

    first_s: float
    cap_s: float
    linear: bool = False
    _attempt: int = field(default=0, init=False)

    @classmethod
    def linear_from(cls, step_s: float, cap_s: float) -> Backoff:
        return cls(step_s, cap_s, linear=True)

    @classmethod
    def exponential_from(cls, first_s: float, cap_s: float) -> Backoff:
        return cls(first_s, cap_s)

    def next(self) -> float:
        self._attempt += 1
        wait = self.first_s * (self._attempt if self.linear else 2 ** min(self._attempt - 1, 32))
        return min(wait, self.cap_s)

    def reset(self) -> None:
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt
