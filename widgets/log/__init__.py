"""The log pane: a line model, its view and painter, search, files, copy."""
