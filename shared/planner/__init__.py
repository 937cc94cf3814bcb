"""The AI planner: per endpoint, a model reads recent responses and writes time-bounded hints."""
