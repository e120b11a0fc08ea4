"""What each fault case saw, collected for the session's last line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CaseResult:
    name: str
    runs: int = 0
    exact: bool = False
    lost_posts: int = 0
    double_counted: int = 0
    worker_stops: int = 0
    seconds: float = 0.0
    outcome: str = "?"

    def line(self) -> str:
        return (
            f"fault {self.name}: {self.outcome} runs={self.runs} exact={self.exact} lost_posts={self.lost_posts} "
            f"double_counted={self.double_counted} worker_stops={self.worker_stops} ({self.seconds:.0f} s)"
        )


RESULTS: list[CaseResult] = []


def summary_line(results: list[CaseResult]) -> str:
    return (
        f"faults: cases={len(results)} runs={sum(r.runs for r in results)} exact={sum(r.exact for r in results)} "
        f"lost_posts={sum(r.lost_posts for r in results)} double_counted={sum(r.double_counted for r in results)} "
        f"worker_stops={sum(r.worker_stops for r in results)}"
    )
