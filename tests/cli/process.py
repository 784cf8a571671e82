"""`digest` as a real process, and the most memory it held (its peak resident set)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float  # digest's own peak RSS (os.wait4 in the launcher), not pytest's


# Linux keeps a process's peak RSS across exec, and a child forked (or vforked) from pytest
# starts with pytest's pages: measured directly, a `digest` run after a few hundred tests would
# "peak" at the test process's size. So a small launcher (a bare Python, a few MB) starts
# `digest` and reports wait4's figure for it on a pipe.
_LAUNCHER = """
import os, sys
fd = int(sys.argv[1])
pid = os.posix_spawn(sys.executable, [sys.executable, *sys.argv[2:]], os.environ)
_, status, usage = os.wait4(pid, 0)
os.write(fd, str(usage.ru_maxrss).encode())
sys.exit(os.waitstatus_to_exitcode(status))
"""
_DIGEST = ("-c", "from digest.cli import main; main()")


def run_digest(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Finished:
    """Run `digest ARGS...` to its end (killed after `timeout` seconds) and measure it."""
    report, report_in = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-S", "-c", _LAUNCHER, str(report_in), *_DIGEST, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        pass_fds=(report_in,),
        start_new_session=True,  # a timeout kills the launcher and digest together
    )
    os.close(report_in)
    outputs: dict[str, bytes] = {}

    def drain(name: str) -> None:
        stream = getattr(process, name)
        outputs[name] = stream.read()
        stream.close()

    readers = [threading.Thread(target=drain, args=(name,)) for name in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout, os.killpg, args=(process.pid, signal.SIGKILL))
    killer.start()
    try:
        process.wait()
    finally:
        killer.cancel()
    for reader in readers:
        reader.join()
    with os.fdopen(report, "rb") as figures:
        peak_kib = int(figures.read() or 0)  # nothing when killed
    return Finished(
        process.returncode,
        outputs["stdout"].decode(errors="replace"),
        outputs["stderr"].decode(errors="replace"),
        peak_kib / 1024,  # KiB on Linux
    )


@contextlib.contextmanager
def digest_web(*args: str, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`digest web ARGS --port P` as a real process while the block runs; yields its base URL.

    Its output goes to `log`, complete once the block has ended (the process is stopped)."""
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *_DIGEST, "web", *args, "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"digest web did not start: {log.read_text()}") from None
                    time.sleep(0.05)
            yield base
        finally:
            process.terminate()
            process.wait(10)
