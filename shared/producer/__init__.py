"""Producer use cases: the Python client, the remote client, validated specs, records, explain, register."""
