"""Celery app and thin tasks: each passes ids to `shared/` and holds no logic of its own."""
