"""Adapters to the world: each module implements a Protocol from shipdeck.lifecycle.ports."""
