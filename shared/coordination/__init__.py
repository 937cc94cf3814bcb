"""Coordination across endpoints and jobs: the AI's decisions checked against the graph, conflicts
recorded and damped (the graph itself and dependency declarations live in the store)."""
