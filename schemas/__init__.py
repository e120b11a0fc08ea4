"""Contracts shared by streams and dashboards: records, topics, Redis keys, watch configuration.

This package imports nothing else of lytte's, so both sides can depend on it.
"""
