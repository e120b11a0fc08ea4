"""the generic HTTP ingest endpoint as a source (`lytte ingest http`): not built yet (issue 10)."""

from __future__ import annotations


def add_cli(ingest) -> None:
    """Registers `lytte ingest http` on the ingest sub-parsers. Provider libraries are imported when it runs,
    so that the CLI starts fast."""
    p = ingest.add_parser("http", help="the generic HTTP ingest endpoint (not built yet)")
    p.set_defaults(func=_run)


def _run(args) -> None:
    raise SystemExit("lytte ingest http: not built yet")
