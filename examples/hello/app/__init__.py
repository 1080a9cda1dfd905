"""hello: the demo service shipdeck deploys. Standard library only."""

GREETING = "hello from the shipdeck demo"
