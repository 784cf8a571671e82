"""`digest` as a real process, and the most memory it held (its peak resident set)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float  # this process's own peak RSS (os.wait4), not that of any other child


def run_digest(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Finished:
    """Run `digest ARGS...` to its end (killed after `timeout` seconds) and measure it."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    outputs: dict[str, bytes] = {}

    def drain(name: str) -> None:
        stream = getattr(process, name)
        outputs[name] = stream.read()
        stream.close()

    readers = [threading.Thread(target=drain, args=(name,)) for name in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        # wait4 rather than Popen.wait: it gives this child's own resource usage
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    return Finished(
        process.returncode,
        outputs["stdout"].decode(errors="replace"),
        outputs["stderr"].decode(errors="replace"),
        usage.ru_maxrss / 1024,  # KiB on Linux
    )
