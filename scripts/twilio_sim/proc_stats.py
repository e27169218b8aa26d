"""What a soak or chaos run watches in the gateway process: memory, descriptors, threads and
event-loop tasks (from ``/proc`` and the gateway's ``/metrics``), and its database's rows."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from . import metrics


@dataclass(frozen=True)
class ProcessSample:
    """One look at the gateway process between rounds of calls."""

    rss_kib: int
    fds: int
    threads: int
    tasks: int | None
    """``kura_asyncio_tasks`` at the scrape (None: the gateway does not export it)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {name}")


async def sample(http: aiohttp.ClientSession, url: str, pid: int) -> ProcessSample:
    scraped = await metrics.scrape(http, url)
    tasks = metrics.value(scraped or {}, "kura_asyncio_tasks")
    return ProcessSample(
        rss_kib=_status_field(pid, "VmRSS"),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=_status_field(pid, "Threads"),
        tasks=None if tasks is None else int(tasks),
    )


@dataclass(frozen=True)
class SessionRows:
    """The sessions table of a SQLite gateway, counted by status."""

    by_status: dict[str, int]
    end_reasons: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def left_open(self) -> int:
        return self.total - self.by_status.get("ended", 0)


def session_rows(database: Path) -> SessionRows:
    """Read-only (``mode=ro``): the gateway may still be writing."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM sessions GROUP BY status"))
        reasons = dict(
            db.execute(
                "SELECT coalesce(end_reason, '-'), count(*) FROM sessions GROUP BY end_reason"
            )
        )
    return SessionRows(statuses, reasons)


def integrity_check(database: Path) -> str:
    """SQLite's own verdict on the file: ``ok``, or the first problems it lists."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(row[0]) for row in rows[:5])
