"""Notifications: payloads for each receiver type, signatures, the SSRF guard and durable delivery."""
