"""The "swarm" deploy target: a replicated Docker Swarm service per environment."""
