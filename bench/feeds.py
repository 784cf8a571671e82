"""Feed parsing benchmark: Digest's reading against feedparser's, over the same documents.

Run from the repository root:

    .venv/bin/python bench/feeds.py [--rounds 5]

The documents are feedparser's own test corpus (tests/data/feedparser: 2,106 small documents,
many ill-formed or oddly encoded on purpose) and the real feeds in tests/data/feeds. Each
document is read whole, from bytes, in memory:
  * digest      `parse_document`: charset decoding, then the strict lxml parse, the repair of
                common blemishes or feedparser for what stays ill-formed (the path a source takes)
  * fast path   the same, counted only over documents the lxml parser read (clean or repaired)
  * feedparser  `feedparser.parse` on the same bytes
Times are CPU times (the machine may be shared), the best of `--rounds` rounds.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from digest.errors import FeedError  # noqa: E402
from digest.sources.feed import parse_document  # noqa: E402


def documents() -> list[tuple[str, bytes]]:
    folders = [ROOT / "tests" / "data" / "feedparser", ROOT / "tests" / "data" / "feeds"]
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".xml", ".rss", ".atom"):
                found.append((str(path.relative_to(folder)), path.read_bytes()))
    return found


def digest_round(docs: list[tuple[str, bytes]]) -> tuple[float, float, Counter[str]]:
    """(all documents' seconds, seconds of those the lxml parser read, paths taken)."""
    paths: Counter[str] = Counter()
    total = fast = 0.0
    for name, data in docs:
        started = time.process_time()
        try:
            path = parse_document(data, f"http://bench.test/{name}").path
        except FeedError:
            path = "refused"
        spent = time.process_time() - started
        total += spent
        kind = path.split(" (")[0]
        paths[kind] += 1
        if kind.startswith("lxml") and kind != "lxml recover":
            fast += spent
    return total, fast, paths


def feedparser_round(docs: list[tuple[str, bytes]], only: set[str] | None = None) -> float:
    total = 0.0
    for name, data in docs:
        if only is not None and name not in only:
            continue
        started = time.process_time()
        feedparser.parse(data, response_headers={"content-location": f"http://bench.test/{name}"})
        total += time.process_time() - started
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    docs = documents()
    size = sum(len(data) for _, data in docs)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"documents: {len(docs):,} ({size / 1024:.0f} KB), best of {args.rounds} rounds")
    parse_document(docs[0][1], None)  # imports and first-call costs out of the figures
    feedparser.parse(docs[0][1])
    fast_names = set()
    for name, data in docs:
        try:
            if parse_document(data, None).path.startswith("lxml") and "recover" not in name:
                fast_names.add(name)
        except FeedError:
            pass
    ours = [digest_round(docs) for _ in range(args.rounds)]
    theirs = [feedparser_round(docs) for _ in range(args.rounds)]
    theirs_fast = [feedparser_round(docs, fast_names) for _ in range(args.rounds)]
    total = min(t for t, _, _ in ours)
    fast = min(f for _, f, _ in ours)
    reference = min(theirs)
    reference_fast = min(theirs_fast)
    print(f"paths taken by Digest: {dict(ours[0][2])}")
    print(
        f"all documents:  digest {total * 1000:8.1f} ms   feedparser {reference * 1000:8.1f} ms"
        f"   {reference / total:5.1f}x"
    )
    print(
        f"fast path ({len(fast_names):,} documents read by lxml): digest {fast * 1000:8.1f} ms"
        f"   feedparser {reference_fast * 1000:8.1f} ms   {reference_fast / fast:5.1f}x"
    )
    real = [(name, data) for name, data in docs if "/" not in name]
    ours_real = min(digest_round(real)[0] for _ in range(args.rounds))
    theirs_real = min(feedparser_round(real) for _ in range(args.rounds))
    print(
        f"real feeds ({len(real)}, {sum(len(d) for _, d in real) / 1024:.0f} KB): "
        f"digest {ours_real * 1000:8.1f} ms   feedparser {theirs_real * 1000:8.1f} ms"
        f"   {theirs_real / ours_real:5.1f}x"
    )


if __name__ == "__main__":
    main()
