"""piper's own lines on the terminal: log warnings on stderr, a run's events and progress bar."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import typer


class StderrLines(logging.Handler):
    """A log record as one line on the current stderr (the message alone)."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(record.getMessage(), err=True)


class Terminal:
    """piper's own output while a run executes: one line per event worth saying, and a bar."""

    def __enter__(self) -> Terminal:
        from rich.console import Console

        # The terminal as it is now: during a step Dagster redirects fd 2 into its compute log.
        self.tty: Any = None
        if sys.stderr.isatty():
            self.tty = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        self.console = Console(file=self.tty, stderr=True, highlight=False)
        self.bar: Any = None
        self.task: Any = None
        self.said_at = 0.0
        return self

    def say(self, line: str) -> None:
        self.console.print(line, markup=False, soft_wrap=True)  # one line, whatever the width

    def progress(self, p: Any) -> None:
        """An IngestProgress: files, bytes, batches, rate and ETA."""
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        if not self.console.is_terminal:
            # A log file (cron): a plain line at the start, then at most every 30 s.
            now = time.monotonic()
            if p.batches == 0 or now - self.said_at >= 30 or p.files_done == p.files_total:
                self.said_at = now
                self.say(
                    f"ingest: {p.files_done}/{p.files_total} files,"
                    f" {p.bytes_done / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB, {p.batches} batches"
                )
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("ingest"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[files]} files, {task.fields[batches]} batches"),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task("ingest", total=p.bytes_total, files="", batches=0)
        self.bar.update(
            self.task,
            completed=p.bytes_done,
            total=p.bytes_total,
            files=f"{p.files_done}/{p.files_total}",
            batches=p.batches,
        )

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
        if self.tty is not None:
            self.tty.close()
