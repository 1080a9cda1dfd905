"""Docker Engine: images, containers, logs, stats, health, the deploy target."""
