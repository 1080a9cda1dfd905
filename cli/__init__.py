"""The ``shipdeck`` command line: parsing, commands, their text output, init and demo."""
