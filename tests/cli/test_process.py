"""The suite's measure of a `digest` process: its own peak memory, whatever pytest holds."""

from __future__ import annotations

from tests.cli.process import run_digest


def test_the_peak_is_digests_not_the_test_processes() -> None:
    ballast = bytearray(400 << 20)  # pytest after a few hundred tests, and more
    for offset in range(0, len(ballast), 4096):  # touched, so it is resident
        ballast[offset] = 1
    done = run_digest("--version")
    del ballast
    assert done.returncode == 0 and done.stdout.startswith("digest ")
    assert 5 < done.peak_mb < 200, done.peak_mb  # a bare `digest --version` is some 20 MB
