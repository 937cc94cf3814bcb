"""The beat schedule: beat enqueues work and holds no endpoint state."""
