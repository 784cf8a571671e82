"""Building blocks for the subscriber tests: files on disk, and a report's skipped rows."""

from __future__ import annotations

from pathlib import Path

from digest.subscribers import ImportReport


def write_file(tmp_path: Path, data: bytes | str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def skip_reasons(report: ImportReport) -> list[tuple[int, str]]:
    return [(s.line, s.reason) for s in report.skipped]
