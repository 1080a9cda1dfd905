"""Local processes: the runner, its guard, supervision, the local target."""
