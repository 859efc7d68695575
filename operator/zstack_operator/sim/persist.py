"""Optional SQLite persistence of the simulator's state (``--state-file``).

One key-value table of JSON documents, grouped by kind (``service``, ``session``, ``job``, ...).
``state.State`` writes through on every change, so a killed simulator loses nothing it has
answered; on start it loads every kind back. Standard-library ``sqlite3`` only; the writes are
small and local, so they run on the event loop. Used only by ``state``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class SqliteStore:
    """A persistent ``(kind, key) -> JSON`` map."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None)
        # WAL + NORMAL: a write is one cheap fsync-free append; a crash of the process (the case
        # the chaos tests exercise) still keeps every committed row.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS kv ("
            " kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
            " PRIMARY KEY (kind, key))"
        )

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        """Insert or replace one document."""
        self._db.execute(
            "INSERT OR REPLACE INTO kv (kind, key, value) VALUES (?, ?, ?)",
            (kind, key, json.dumps(value, separators=(",", ":"))),
        )

    def delete(self, kind: str, key: str) -> None:
        """Remove one document if present."""
        self._db.execute("DELETE FROM kv WHERE kind = ? AND key = ?", (kind, key))

    def load(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every document of ``kind``."""
        rows = self._db.execute("SELECT key, value FROM kv WHERE kind = ?", (kind,)).fetchall()
        for key, value in rows:
            yield key, json.loads(value)

    def clear(self) -> None:
        """Forget everything."""
        self._db.execute("DELETE FROM kv")

    def close(self) -> None:
        """Close the database file."""
        self._db.close()
