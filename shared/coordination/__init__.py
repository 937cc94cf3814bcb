"""Coordination across endpoints: the AI's decisions checked against the graph, conflicts recorded and damped."""
