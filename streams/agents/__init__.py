"""The Faust app and its agents: thin, they perform what the pure code in `streams.core` returns."""
