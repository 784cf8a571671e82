"""Files only Digest's own user may read: the data directory, the database, the key, the outbox.

Modes are set with chmod after creating, so they hold whatever the umask (a umask can only
take bits away, and a strict one such as 0277 would otherwise leave a folder Digest cannot
write). Only what Digest creates gets these modes: an existing folder or database keeps the
mode the operator gave it (a volume shared with a backup job, say).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_FILE", "PRIVATE_FOLDER", "create_private_file", "private_folder"]

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def private_folder(path: Path) -> Path:
    """Create `path` as 0700 unless it exists; missing parents are made as usual."""
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_FOLDER)
    except FileExistsError:
        return path  # another process made it first (or it is a file: the caller says so)
    os.chmod(path, PRIVATE_FOLDER)
    return path


def create_private_file(path: Path, *, exclusive: bool = False) -> int:
    """Open `path` for writing as a 0600 file (truncated); a descriptor to close.

    `exclusive` refuses an existing file (FileExistsError), for files only one process makes.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor
