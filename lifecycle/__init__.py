"""The domain core of shipdeck: stages, items, gates, config, board and journal.

Plain Python only. Nothing here imports a UI or an I/O library (textual, rich,
docker, git, psutil, httpx); ``tests/unit/test_import_hygiene.py`` proves it.
"""
