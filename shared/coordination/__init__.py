"""Coordination across endpoints and jobs: the dependency graph, its declarations and its decisions."""
