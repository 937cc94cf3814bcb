"""Prometheus instruments that every layer may count into."""
