"""The Textual app and the command line: the only place that wires backends to the core."""
