"""Cronicorn: an adaptive HTTP job scheduler. This package never imports Celery."""
