"""Start-up benchmark: how long a whole `digest` process takes to answer, beside `python -c pass`.

Run from the repository root with the test environment:

    .venv/bin/python bench/startup.py [--runs 21]

Each command runs N times as a fresh process (interpreter start-up, imports, the answer, exit),
output discarded; the median and the fastest are printed in milliseconds. The commands run
interleaved, so a busy moment of the machine weighs on all of them alike. Digest's bytecode is
compiled once first, as an installed package has it. `python -c pass` is the floor: the same
interpreter, with the same site-packages, doing nothing.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "digest --version": [str(BIN / "digest"), "--version"],
    "digest --help": [str(BIN / "digest"), "--help"],
    "digest check --help": [str(BIN / "digest"), "check", "--help"],
}


def _once(argv: list[str]) -> float:
    """Milliseconds of one whole process, from spawn to exit."""
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command")
    args = parser.parse_args()

    compileall.compile_dir(ROOT / "digest", quiet=1)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.2f}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}"
    )
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv in COMMANDS.values():
        _once(argv)  # warm the file cache
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            times[name].append(_once(argv))
    floor = statistics.median(times["python -c pass"])
    print(f"{args.runs} runs each, whole process, milliseconds")
    print(f"{'command':<22} {'median':>8} {'fastest':>8} {'over python':>12}")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:<22} {median:>8.1f} {min(runs):>8.1f} {median - floor:>12.1f}")


if __name__ == "__main__":
    main()
