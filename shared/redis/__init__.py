"""Redis as lock service: per-endpoint locks, every key name, rate limits. Never a database."""
