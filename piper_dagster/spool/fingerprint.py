"""Fingerprints of a spool file's consumed bytes: how a rewrite in place is told from growth.

Kept with each file's read state (spool_files.head_md5, tail_md5): a file whose consumed bytes
no longer hash the same was rewritten, not appended to, and is read again from the start.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

FINGERPRINT_BYTES = 4096


def fingerprints(path: Path, offset: int) -> tuple[str, str]:
    """md5 of the first and of the last (up to) 4 KiB of the consumed bytes [0, offset)."""
    with open(path, "rb") as f:
        head = os.pread(f.fileno(), min(offset, FINGERPRINT_BYTES), 0)
        tail_start = max(0, offset - FINGERPRINT_BYTES)
        tail = os.pread(f.fileno(), offset - tail_start, tail_start)
    return hashlib.md5(head).hexdigest(), hashlib.md5(tail).hexdigest()
