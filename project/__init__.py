"""The composition root both front ends use: a repository, its config, and the engine
built for it with the backends it needs (the one place that picks backends)."""
