"""Folder sources: local .html, .md and .txt files, one article each."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digest.models import SourceItem

SUFFIXES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".gz": "text/html",  # .html.gz
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
}


def read_folder(name: str, folder: Path, max_items: int) -> list[SourceItem]:
    """The newest `max_items` article files of a folder (hidden files skipped)."""
    files = [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and path.suffix.lower() in SUFFIXES
        and (path.suffix.lower() != ".gz" or path.name.lower().endswith((".html.gz", ".htm.gz")))
    ]
    files.sort(key=lambda p: (p.stat().st_mtime, str(p)), reverse=True)
    items = []
    for path in files[:max_items]:
        relative = path.relative_to(folder).as_posix()
        items.append(
            SourceItem(
                source=name,
                key=f"file:{relative}",
                url=None,
                title=None,
                published=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                raw=path.read_bytes(),
                content_type=SUFFIXES[path.suffix.lower()],
                fetch_full=False,
                filename=path.name,
            )
        )
    return items
