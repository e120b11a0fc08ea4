"""Pure decisions shared by live processing, replay and backtests: no faust, no I/O."""
