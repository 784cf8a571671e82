"""Extraction benchmark: title, lead and body of 181 real pages, and the time per page.

Run from the repository root:

    PYTHONPATH=. python bench/extraction.py [--corpus DIR] [--show-misses] [--repeat N]

Corpus: shared/corpus/article-extraction-benchmark (beside the repository, or --corpus).
Definitions (from the corpus README):
  lead-match  the gold lead is the first paragraph of articleBody (split on newlines) with at
              least 15 whitespace words; ours matches when the bag-of-words F1 of lower-cased
              \\w+ tokens is >= 0.8. Pages without a gold lead are not counted.
  lead F1     mean of that F1 over the same pages (0 for a missing lead).
  title       exact match after collapsing runs of whitespace and trimming, against `headline`
              or any of `alternates` in titles.json; nothing else is normalized.
  body F1     upstream's: multisets of 4-gram shingles of case-sensitive \\w+ tokens, per page
              tp/fp/fn normalized to sum 1, precision and recall averaged over pages, F1 their
              harmonic mean.
  time        wall time of extract_document(bytes, url=...) per page: decoding, parsing,
              metadata, trafilatura and lead rules, gzip excluded; median and p95 over pages
              (best of --repeat runs per page), also the first run's median and CPU time, and
              the load average: other processes on this 2-core machine inflate wall time.

The rules behind the title and the lead are described in digest/extract.py's docstring; none
of them names a site or a page's text.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from digest.errors import ExtractionError
from digest.extract import extract_document
from digest.testing.shared import shared_folder

_TOKEN = re.compile(r"\w+")
TARGETS = {"lead_match": 95.0, "title_exact": 90.0, "median_ms": 25.0, "crashes": 0}


def default_corpus() -> Path:
    """The corpus in the shared folder beside the checkout (or under $DIGEST_SHARED)."""
    found = shared_folder("corpus", "article-extraction-benchmark")
    return (
        found
        or Path(__file__).resolve().parents[2]
        / "shared"
        / "corpus"
        / "article-extraction-benchmark"
    )


def gold_lead(body: str) -> str | None:
    for para in body.split("\n"):
        if len(para.split()) >= 15:
            return para.strip()
    return None


def bag_f1(gold: str, ours: str | None) -> float:
    a = Counter(_TOKEN.findall(gold.lower()))
    b = Counter(_TOKEN.findall((ours or "").lower()))
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(b.values()), common / sum(a.values())
    return 2 * p * r / (p + r)


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_prf(gold: str, ours: str) -> tuple[float, float]:
    g, o = shingles(gold), shingles(ours)
    tp_count = sum((g & o).values())
    fp_count = sum((o - g).values())
    fn_count = sum((g - o).values())
    total = tp_count + fp_count + fn_count
    if total == 0:
        return 1.0, 1.0
    tp, fp, fn = tp_count / total, fp_count / total, fn_count / total
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def norm_title(text: str | None) -> str:
    return " ".join((text or "").split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--show-misses", action="store_true", help="print each lead/title miss")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per page (best kept)")
    args = parser.parse_args(argv)

    corpus: Path = args.corpus
    if not (corpus / "ground-truth.json").is_file():
        print(f"corpus not found at {corpus}", file=sys.stderr)
        return 2
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    titles = json.loads((corpus / "titles.json").read_text(encoding="utf-8"))

    lead_hits = lead_pages = title_hits = 0
    lead_f1s: list[float] = []
    precisions: list[float] = []
    recalls: list[float] = []
    times: list[float] = []
    first_times: list[float] = []
    cpu_times: list[float] = []
    errors: list[str] = []
    crashes: list[str] = []
    for key in sorted(truth):
        entry = truth[key]
        raw = gzip.decompress((corpus / "html" / f"{key}.html.gz").read_bytes())
        best = best_cpu = float("inf")
        article = None
        try:
            for attempt in range(max(1, args.repeat)):
                start, start_cpu = time.perf_counter(), time.process_time()
                article = extract_document(raw, url=entry["url"], content_type="text/html")
                elapsed = time.perf_counter() - start
                best = min(best, elapsed)
                best_cpu = min(best_cpu, time.process_time() - start_cpu)
                if attempt == 0:
                    first_times.append(elapsed * 1000)
        except ExtractionError as exc:
            errors.append(f"{key[:12]} {exc}")
        except Exception as exc:  # a crash: counted, never hidden
            crashes.append(f"{key[:12]} {type(exc).__name__}: {exc}")
        if best != float("inf"):
            times.append(best * 1000)
            cpu_times.append(best_cpu * 1000)

        gold = gold_lead(entry["articleBody"])
        if gold is not None:
            lead_pages += 1
            f1 = bag_f1(gold, article.lead if article else None)
            lead_f1s.append(f1)
            if f1 >= 0.8:
                lead_hits += 1
            elif args.show_misses:
                ours = article.lead if article else None
                print(f"LEAD MISS {key[:12]} {entry['url']}")
                print(f"  gold: {gold[:160]}\n  ours: {ours!s:.160}")
        precision, recall = shingle_prf(
            entry["articleBody"], (article.text or "") if article else ""
        )
        precisions.append(precision)
        recalls.append(recall)

        want = titles.get(key, {})
        accepted = {norm_title(want.get("headline"))} | {
            norm_title(a) for a in want.get("alternates", [])
        }
        got = norm_title(article.title if article else None)
        if got and got in accepted:
            title_hits += 1
        elif args.show_misses:
            print(f"TITLE MISS {key[:12]}\n  gold: {want.get('headline')!r}\n  ours: {got!r}")

    n = len(truth)
    p_avg, r_avg = statistics.fmean(precisions), statistics.fmean(recalls)
    body_f1 = 2 * p_avg * r_avg / (p_avg + r_avg) if p_avg + r_avg else 0.0
    ordered = sorted(times)
    median = statistics.median(ordered) if ordered else float("nan")
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")
    lead_pct = 100 * lead_hits / lead_pages if lead_pages else 0.0
    title_pct = 100 * title_hits / n

    print(
        f"machine: {os.cpu_count()} cpu, Python {platform.python_version()}, {platform.platform()}"
    )
    print(f"corpus: {corpus} ({n} pages, {lead_pages} with a gold lead)")
    print("title rule: exact string match after collapsing whitespace runs to one space and")
    print("            trimming; accepted = titles.json headline or any of its alternates")
    print(
        f"lead-match:       {lead_pct:5.1f} %  ({lead_hits}/{lead_pages}; bag-of-words F1 >= 0.8)"
    )
    print(f"mean lead F1:     {statistics.fmean(lead_f1s):.3f}")
    print(f"title exact:      {title_pct:5.1f} %  ({title_hits}/{n})")
    print(f"body F1:          {body_f1:.3f}  (P {p_avg:.3f}, R {r_avg:.3f}; 4-gram shingles)")
    print(
        f"ms per page:      median {median:.1f}, p95 {p95:.1f} (wall, best of {args.repeat} runs"
        " per page; the target is judged on this median)"
    )
    if first_times:
        print(
            f"                  first run only: median {statistics.median(first_times):.1f};"
            f" CPU time: median {statistics.median(cpu_times):.1f}"
        )
    load = os.getloadavg()
    print(
        f"load average:     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other work inflates times)"
    )
    print(f"errors:           {len(errors)} (ExtractionError)  crashes: {len(crashes)}")
    for line in errors + crashes:
        print(f"  {line}")
    met = {
        "lead_match": lead_pct >= TARGETS["lead_match"],
        "title_exact": title_pct >= TARGETS["title_exact"],
        "median_ms": median <= TARGETS["median_ms"],
        "crashes": len(crashes) == TARGETS["crashes"],
    }
    print(
        "targets:          "
        + ", ".join(f"{name} {'MET' if ok else 'MISSED'}" for name, ok in met.items())
    )
    return 0 if not crashes else 1


if __name__ == "__main__":
    sys.exit(main())
