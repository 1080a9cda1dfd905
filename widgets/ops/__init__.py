"""Operating panes: environments, events, metrics and their charts."""
