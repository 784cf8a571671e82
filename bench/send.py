"""Deliver a 30-article issue to N subscribers through Postmark batches to the local sandbox.

    PYTHONPATH=. .venv/bin/python bench/send.py [--subscribers 100000 10000]

For each N, a fresh child process builds a SQLite store with N subscribers, freezes the issue
(one delivery row each) and times the ledger loop end to end: claim a batch, personalize each
message into complete MIME, POST the batch to the sandbox (served by uvicorn in another process on
127.0.0.1, which parses, checks and records every message), record every outcome. It prints
messages per second and the child's peak memory (ru_maxrss), and checks the targets:
>= 4,000 messages/s; peak memory <= 250 MB; peak at 100,000 within 50 MB of peak at 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "pm-sandbox-token"


def machine() -> str:
    model = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} cpus ({model}), Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child(subscribers: int, base_url: str) -> None:
    """One measured run, in its own process so that ru_maxrss is its own."""
    sys.path.insert(0, str(ROOT / "tests" / "render"))
    from render_samples import sample_content  # type: ignore[import-not-found]
    from sqlalchemy import insert

    from digest.config import load_config
    from digest.dates import utcnow
    from digest.models import DeliveryStatus, MembershipStatus
    from digest.pipeline import deliver_issue, render_settings
    from digest.render import render_issue
    from digest.store import tables
    from digest.workspace import Workspace

    work = Path(tempfile.mkdtemp(prefix="digest-bench-send-"))
    config = work / "bench.toml"
    (work / "articles").mkdir()
    config.write_text(
        f"""
[web]
base_url = "https://news.example.org"
[providers.pm]
kind = "postmark"
token_env = "BENCH_POSTMARK_TOKEN"
base_url = "{base_url}"
[sources.s]
kind = "folder"
path = "articles"
[lists.readers]
title = "Readers"
[digests.bench]
title = "The Bench Brief"
sources = ["s"]
list = "readers"
provider = "pm"
from = "The Bench Brief <brief@news.example.org>"
postal_address = "1 Bench Street, Testville"
"""
    )
    os.environ["BENCH_POSTMARK_TOKEN"] = TOKEN
    ws = Workspace.open(load_config(config), work / "var")
    store = ws.store
    list_id = store.ensure_list("readers", "Readers")
    now = utcnow()
    with store.engine.begin() as conn:  # bulk setup; importing is measured by bench/import.py
        for start in range(0, subscribers, 20_000):
            rows = range(start + 1, min(subscribers, start + 20_000) + 1)
            conn.execute(
                insert(tables.subscribers),
                [
                    {
                        "id": n,
                        "email": f"reader{n}@example.com",
                        "name": f"Reader {n}",
                        "attributes": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in rows
                ],
            )
            conn.execute(
                insert(tables.memberships),
                [
                    {
                        "list_id": list_id,
                        "subscriber_id": n,
                        "status": MembershipStatus.ACTIVE,
                        "origin": "bench",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in rows
                ],
            )
    rendered = render_issue(sample_content(30), render_settings(ws.config, "bench"))
    issue_id = store.claim_issue("bench", "bench", ws.owner)
    assert issue_id is not None
    store.save_draft(
        issue_id,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        content={
            "list_id": list_id,
            "article_keys": [],
            "rendered": {
                k: v for k, v in rendered.to_json().items() if k not in ("subject", "html", "text")
            },
        },
        report={},
    )
    started = time.perf_counter()
    planned = store.freeze_issue(issue_id, "bench", list_id, [])
    froze = time.perf_counter() - started
    started = time.perf_counter()
    report = asyncio.run(deliver_issue(ws, store.get_issue(issue_id), max_wait=60))
    elapsed = time.perf_counter() - started
    ws.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "subscribers": subscribers,
                "planned": planned,
                "freeze_s": froze,
                "send_s": elapsed,
                "counts": report.counts,
                "rate": report.counts.get(DeliveryStatus.SENT, 0) / elapsed,
                "peak_mb": peak_mb,
                "html_kb": len(rendered.html.encode()) / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100_000, 10_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.base_url)
        return

    print(machine())
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "digest.testing.sandbox", "--port", str(port), "--no-bodies"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base_url}/_sandbox/stats", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the sandbox did not start") from None
                time.sleep(0.1)
        results = {}
        for n in args.subscribers:
            urllib.request.urlopen(
                urllib.request.Request(f"{base_url}/_sandbox/messages", method="DELETE")
            ).read()
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), "--base-url", base_url],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            stats = json.loads(urllib.request.urlopen(f"{base_url}/_sandbox/stats").read())
            result["sandbox_accepted"] = stats.get("accepted", stats)
            results[n] = result
            print(
                f"{n:>7} subscribers: {result['rate']:8.0f} messages/s end to end "
                f"({result['send_s']:.2f} s; planning {result['freeze_s']:.2f} s), "
                f"peak memory {result['peak_mb']:.0f} MB, HTML {result['html_kb']:.1f} KB, "
                f"outcomes {result['counts']}, sandbox accepted {result['sandbox_accepted']}"
            )
    finally:
        sandbox.terminate()
        sandbox.wait()

    print("targets:")
    for n, result in results.items():
        print(
            f"  {n:>7}: >= 4,000 messages/s: {'met' if result['rate'] >= 4000 else 'MISSED'}"
            f"; peak <= 250 MB: {'met' if result['peak_mb'] <= 250 else 'MISSED'}"
        )
    if 100_000 in results and 10_000 in results:
        growth = results[100_000]["peak_mb"] - results[10_000]["peak_mb"]
        print(
            f"  peak(100k) - peak(10k) = {growth:.0f} MB <= 50 MB: "
            f"{'met' if growth <= 50 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
