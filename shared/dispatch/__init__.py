"""Running the schedule: the tick that claims, the runner that executes claims."""
