"""Tests against a real three-node Docker Swarm on this machine (scripts/swarm-up.sh)."""
