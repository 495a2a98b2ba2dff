"""Spark's event log (`spark.eventLog.dir`): the files of a server run, and their events.

The local server writes one (thrift_server.ServerFiles.event_log). Spark 4 writes each application
into a rolling folder eventlog_v2_<app id>/ of events_<n>_<app id> files; older Sparks and
`spark.eventLog.rolling.enabled=false` write one file per application. Each line is one JSON event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def event_log_files(event_log_dir: Path) -> list[Path]:
    """The newest application's event log files in `event_log_dir` (a rolling eventlog_v2_* folder or one file).

    Every server start is a new application with its own log; the newest is the one written last.
    """
    if not event_log_dir.is_dir():
        raise FileNotFoundError(f"no Spark event log folder at {event_log_dir}")
    applications: list[list[Path]] = []
    for entry in event_log_dir.iterdir():
        if entry.is_dir() and entry.name.startswith("eventlog_v2_"):
            parts = [f for f in entry.iterdir() if f.name.startswith("events_")]
            # events_<n>_<app id>: in rolling order by n.
            applications.append(sorted(parts, key=lambda f: int(f.name.split("_")[1])))
        elif entry.is_file() and not entry.name.startswith("."):
            applications.append([entry])
    applications = [files for files in applications if files]
    if not applications:
        raise FileNotFoundError(f"no Spark event log in {event_log_dir}")
    return max(applications, key=lambda files: max(f.stat().st_mtime_ns for f in files))


def events(files: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """The events of `files` in order (a running application's last, half-written line left out)."""
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    # A running application's log may end in a line still being written; anything
                    # else is a corrupt log, and figures read from it would be wrong.
                    if lines.readline() == "":
                        return
                    raise ValueError(f"{path}:{number} is not a Spark event (JSON) line") from None
