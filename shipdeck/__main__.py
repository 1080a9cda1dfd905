"""``python -m shipdeck``: the same command as ``shipdeck``."""

from shipdeck.cli.main import main

raise SystemExit(main())
