"""``shipdeck gc``: prune .shipdeck/ now, by the ``retention:`` block of shipdeck.yaml
(project/gc.py does it; lifecycle/retention.py decides what goes)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shipdeck.lifecycle.units import byte_size
from shipdeck.project.errors import EXIT_OK
from shipdeck.project.repo import Project


def gc(args: argparse.Namespace) -> int:
    from shipdeck.project.gc import folder
    from shipdeck.project.gc import gc as prune

    project = Project.discover(Path.cwd())
    prunes = prune(project, dry_run=args.dry_run)
    freed = sum(p.freed for p in prunes)
    if args.json:
        data = {
            "dry_run": args.dry_run,
            "freed": freed,
            "kinds": {
                p.kind: {
                    "kept": len(p.keep),
                    "removed": [{"name": e.name, "bytes": e.size} for e in p.delete],
                    "freed": p.freed,
                }
                for p in prunes
            },
        }
        print(json.dumps(data, sort_keys=True))
        return EXIT_OK
    verb = "would remove" if args.dry_run else "removed"
    for p in prunes:
        where = project.paths.display(folder(project.paths, p.kind))
        for entry in p.delete:
            print(f"{verb} {where}/{entry.name}{'.log' if p.kind == 'runs' else ''}"
                  f" ({byte_size(entry.size)})")  # fmt: skip
    counts = ", ".join(f"{len(p.delete)} {p.kind} (kept {len(p.keep)})" for p in prunes)
    total = "would free" if args.dry_run else "freed"
    print(f"{verb} {counts}; {total} {byte_size(freed)}")
    return EXIT_OK
