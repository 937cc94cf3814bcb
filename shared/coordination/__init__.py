"""Coordination across endpoints and jobs: the dependency graph, its declarations and decisions, and
the AI's decisions checked against the graph, conflicts recorded and damped."""
