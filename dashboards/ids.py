"""Every component id of the dashboard, in one place (tests use them too)."""

LIVE_TICK = "live-tick"
SLOW_TICK = "slow-tick"
WALL_TILES = "wall-tiles"
WALL_COUNTERS = "wall-counters"
WALL_FRESHNESS = "wall-freshness"


def tile(brand: str) -> str:
    return f"tile-{brand}"
