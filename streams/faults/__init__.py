"""Fault-injection tooling for `make faults`; never imported by the runtime."""
