"""Mistakes in configuration or arguments, told as one line with exit code 2 (not a traceback), and the loaders
every command shares. In a module of its own so that the CLI and the sources raise and catch the same class
(run as `python -m streams.cli`, the CLI module is `__main__`, and a class defined there would be another one
than the one a source imports)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from schemas.settings import Settings
from schemas.watch import WatchConfig, load_watch_config


class UsageError(RuntimeError):
    """Bad configuration or arguments: printed as one line, exit code 2."""


def load_settings() -> Settings:
    """The settings, or UsageError naming the first bad variable: LYTTE_PARTITIONS=0 -> "environment:
    LYTTE_PARTITIONS: Input should be greater than or equal to 1"."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = "LYTTE_" + "_".join(str(p) for p in err["loc"]).upper()
        raise UsageError(f"environment: {field}: {err['msg']}") from None


def load_watch(settings: Settings, path: str | None = None) -> WatchConfig:
    """The watch file given, else the configured one (WatchConfigError names the file and line when it is bad)."""
    return load_watch_config(Path(path) if path else settings.watch_config)
