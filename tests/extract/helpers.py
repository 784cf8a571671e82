"""What the extraction tests share: the fixture pages, the benchmark corpus, small builders."""

from __future__ import annotations

import gzip
import json
import re
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest

from digest.testing.shared import shared_folder

DATA = Path(__file__).resolve().parents[1] / "data" / "extract"


REPO = Path(__file__).resolve().parents[2]


CORPUS = shared_folder("corpus", "article-extraction-benchmark")


needs_corpus = pytest.mark.skipif(
    CORPUS is None, reason="shared/corpus/article-extraction-benchmark not found beside the repo"
)


LEAD = (
    "The harbor bridge reopened to traffic on Tuesday morning, ending two years of detours for "
    "the 40,000 drivers who cross it every day. City officials cut a ribbon at 6 a.m. and the "
    "first cars rolled across minutes later."
)


def html_page(body: str, head: str = "<title>Test page</title>") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


PARIS = (
    "<html><head>{meta}<title>Café crème</title></head><body><h1>Café crème</h1>"
    "<p>Le café est très apprécié à Paris, où les habitants boivent chaque matin une tasse de "
    "crème avant de partir travailler.</p></body></html>"
)


PARIS_LEAD = (
    "Le café est très apprécié à Paris, où les habitants boivent chaque matin une tasse de crème "
    "avant de partir travailler."
)


FULL_ITEM = (
    "<p>The ferry company added two evening crossings on Friday, answering complaints from "
    "commuters who were stranded when the last boat left at 7 p.m.</p>"
    "<p>The new boats leave at 8 and 9:30 p.m. from both ports.</p>"
)


def corpus_page(prefix: str) -> tuple[bytes, str, str, str]:
    assert CORPUS is not None
    truth = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    titles = json.loads((CORPUS / "titles.json").read_text(encoding="utf-8"))
    key = next(k for k in truth if k.startswith(prefix))
    gold = next(p for p in truth[key]["articleBody"].split("\n") if len(p.split()) >= 15)
    raw = gzip.decompress((CORPUS / "html" / f"{key}.html.gz").read_bytes())
    return raw, truth[key]["url"], gold.strip(), titles[key]["headline"]


def bag_f1(gold: str, ours: str) -> float:
    a = Counter(re.findall(r"\w+", gold.lower()))
    b = Counter(re.findall(r"\w+", ours.lower()))
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(b.values()), common / sum(a.values())
    return 2 * precision * recall / (precision + recall)


def png(width: int, height: int) -> bytes:
    """A real (blank, grey) PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
