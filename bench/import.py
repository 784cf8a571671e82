"""Benchmark: import a generated CSV of subscribers into SQLite and into PostgreSQL.

    PYTHONPATH=. python bench/import.py [--rows 1000000] [--skip-postgres] [--skip-sqlite]

Each import runs in its own process, so the peak memory printed is that of the import alone
(the file is generated beforehand and streamed); a big file is read and validated in a further
process, whose peak is printed too (an upper bound: Linux counts what it had when forked).
Targets on the reference machine: >= 50,000 rows/s into SQLite, >= 30,000 rows/s into
PostgreSQL, peak memory < 200 MB at any file size.
PostgreSQL: 127.0.0.1:5432, trust auth, database `test` (a scratch database is created there
and dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ADMIN_URL = os.environ.get("DIGEST_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "example.org",
    "posteo.de",
    "web.de",
    "icloud.com",
    "proton.me",
] + [f"company{i}.example" for i in range(2000)]
CITIES = ["Oslo", "Köln", "Zürich", "Lisboa", "Kraków", "Dublin", "Austin", "Osaka"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic file: header, names, two attributes, ~0.2% bad or duplicate rows."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("email,first name,last name,city,plan\n")
        for i in range(rows):
            roll = rng.random()
            if roll < 0.001:
                out.write(f"not-an-address-{i},Bad,Row,Oslo,free\n")
                continue
            number = rng.randrange(i) if roll < 0.002 and i else i  # an earlier row again
            domain = DOMAINS[number % len(DOMAINS)]
            out.write(
                f"First.Last{number}@{domain},First{number},Last{number},"
                f"{CITIES[number % len(CITIES)]},{'pro' if number % 7 == 0 else 'free'}\n"
            )


def one(engine: str, csv_path: str, url: str | None) -> None:
    """Child process: import twice (new, then unchanged); print figures as JSON."""
    from digest.store import open_store
    from digest.subscribers import import_csv

    home = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    store = open_store(url, home)
    list_id = store.ensure_list("bench", "Bench")
    results = []
    for attempt in ("first", "again"):
        started, cpu = time.perf_counter(), time.process_time()
        report = import_csv(store, list_id, Path(csv_path))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        results.append(
            {
                "pass": attempt,
                "rows": report.rows,
                "seconds": wall,
                "cpu_seconds": cpu,
                **report.as_json(),
            }
        )
    store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    # the process reading the file, for a big file (the largest of them; each reads one file)
    reader = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps({"engine": engine, "peak_mb": peak, "reader_peak_mb": reader, "passes": results})
    )


def run_child(engine: str, csv_path: Path, url: str | None) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", engine, str(csv_path)]
    if url:
        command.append(url)
    done = subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgres_database() -> tuple[str, str] | None:
    try:
        import psycopg

        name = f"digest_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except Exception as exc:
        print(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}")
        return None
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", version


def drop_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def show(result: dict[str, object], target: int) -> None:
    for item in result["passes"]:  # type: ignore[attr-defined]
        rate = item["rows"] / item["seconds"]
        print(
            f"  {result['engine']:<10} {item['pass']:<6} {item['rows']:>9,} rows "
            f"{item['seconds']:7.1f} s  {rate:>9,.0f} rows/s  (cpu {item['cpu_seconds']:.1f} s)  "
            f"imported {item['imported']:,} updated {item['updated']:,} unchanged "
            f"{item['unchanged']:,} skipped {item['skipped']:,}"
        )
    first = result["passes"][0]  # type: ignore[index]
    rate = first["rows"] / first["seconds"]
    peak = max(float(str(result["peak_mb"])), float(str(result["reader_peak_mb"])))
    verdict = "meets" if rate >= target and peak < 200 else "MISSES"
    print(
        f"  {result['engine']:<10} peak memory {result['peak_mb']:.0f} MB "
        f"(reading process {result['reader_peak_mb']:.0f} MB); "
        f"{verdict} the target ({target:,} rows/s, < 200 MB)"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        one(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as folder:
        csv_path = Path(folder) / "subscribers.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        size = csv_path.stat().st_size / 1_048_576
        print(
            f"generated {args.rows:,} rows ({size:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        if not args.skip_sqlite:
            show(run_child("sqlite", csv_path, None), 50_000)
        if not args.skip_postgres:
            found = postgres_database()
            if found:
                url, version = found
                print(f"PostgreSQL {version}")
                try:
                    show(run_child("postgresql", csv_path, url), 30_000)
                finally:
                    drop_database(url)


if __name__ == "__main__":
    main()
