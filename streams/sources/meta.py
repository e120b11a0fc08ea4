"""Meta page webhooks as a source (`lytte ingest meta`): not built yet (issue 10)."""

from __future__ import annotations


def add_cli(ingest) -> None:
    """Registers `lytte ingest meta` on the ingest sub-parsers. Provider libraries are imported when it runs,
    so that the CLI starts fast."""
    p = ingest.add_parser("meta", help="Meta page webhooks (not built yet)")
    p.set_defaults(func=_run)


def _run(args) -> None:
    raise SystemExit("lytte ingest meta: not built yet")
