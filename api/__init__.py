"""The REST API: a thin FastAPI layer over the same use cases as the Python client."""
