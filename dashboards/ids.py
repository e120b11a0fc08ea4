"""Every component id of the dashboard, in one place (tests use them too)."""

LIVE_TICK = "live-tick"
SLOW_TICK = "slow-tick"
WALL_TILES = "wall-tiles"
WALL_COUNTERS = "wall-counters"
WALL_FRESHNESS = "wall-freshness"
WALL_SOURCES = "wall-sources"


SHELL = "shell"
URL = "url"

WALL_CLOCK = "wall-clock"
WALL_BANNER = "wall-banner"
WALL_SHOWN = "wall-shown"
WALL_DIGESTS = "wall-digests"
WALL_QUERY = "wall-query"
ROTATE_TICK = "rotate-tick"
CLOCK_TICK = "clock-tick"

# pattern-matching ids of a tile's parts: {"type": <part>, "brand": <brand id>}
TILE = "wall-tile"
TILE_BODY = "wall-tile-body"
TILE_HOUR = "wall-tile-hour"
TILE_DAY = "wall-tile-day"


def tile_part(part: str, brand: str) -> dict:
    return {"type": part, "brand": brand}
