"""The shell: the `cronicorn` CLI, the embedded `up`, its supervisor, the demo. Nothing in the library imports it."""
