"""Writing a generated spool's files, counted line by line as an ingest must count them."""

from __future__ import annotations

import os
from pathlib import Path

from piper_dagster.contract.models import (
    EVENT_TYPES,
)
from piper_dagster.generate.clock import date_of
from piper_dagster.generate.records import SampleFile
from piper_dagster.generate.skew import is_skewed
from piper_dagster.generate.summary import GenerateSummary


def write_and_count(
    root: Path, files: list[SampleFile], set_mtime: bool
) -> tuple[GenerateSummary, int]:
    """Write the files; count their lines as an ingest must; and count the late events."""
    summary = GenerateSummary.empty()
    seen: dict[str, bool] = {}
    late = 0
    for f in sorted(files, key=lambda f: f.relpath):
        term = b"\r\n" if f.crlf else b"\n"
        parts: list[bytes] = []
        for rec in f.recs:
            line = f.render(rec)
            if rec.kind == "tail":
                parts.append(line)
                summary.unterminated_tails += 1
                continue
            parts.append(line + term)
            summary.lines += 1
            if rec.kind == "event":
                assert rec.event is not None
                eid = rec.event["event_id"]
                skewed = is_skewed(rec.ts_us, f.mtime_us, f.day)
                if eid in seen:
                    assert seen[eid] == skewed, "a duplicate must not change the skew verdict"
                    summary.duplicates += 1
                    continue
                seen[eid] = skewed
                summary.valid_events += 1
                summary.skewed_events += skewed
                event_type = rec.event["event_type"]
                summary.valid_by_type[event_type] = summary.valid_by_type.get(event_type, 0) + 1
                if rec.late and date_of(rec.ts_us) < f.day:
                    late += 1
            elif rec.kind == "invalid":
                assert rec.reason is not None
                summary.invalid_by_reason[rec.reason] = (
                    summary.invalid_by_reason.get(rec.reason, 0) + 1
                )
            elif rec.kind == "blank":
                summary.blank_lines += 1
            elif rec.kind == "nul":
                summary.nul_padding_lines += 1
        mtime_ns = f.mtime_us * 1000 if set_mtime else None
        write_file(root, f.relpath, b"".join(parts), mtime_ns, summary)
    summary.invalid_by_reason = dict(sorted(summary.invalid_by_reason.items()))
    summary.valid_by_type = {
        t: summary.valid_by_type[t] for t in EVENT_TYPES if t in summary.valid_by_type
    }
    return summary, late


def write_file(
    root: Path, relpath: str, data: bytes, mtime_ns: int | None, summary: GenerateSummary
) -> None:
    """Write one spool file (and its mtime, when given), and count it in `summary`."""
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    summary.files += 1
    summary.bytes += len(data)
