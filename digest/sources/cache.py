"""Items as the source cache keeps them: compact bytes (orjson + zlib), read back exactly.

A 304 (or the same body again) must yield the same items as the last parse, so everything a
`SourceItem` holds survives the round trip; page bodies are kept too, compressed.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import datetime
from typing import Any

import orjson

from digest.config import SourceConfig
from digest.models import Enclosure, SourceItem

_VERSION = 2  # bump when the encoding or what parsing produces changes: old caches re-parse


def fingerprint(source: SourceConfig) -> str:
    """What shapes a source's parsed items; a cached result with another fingerprint is stale."""
    shape = {
        "v": _VERSION,
        "kind": source.kind,
        "url": source.url,
        "max_items": source.max_items,
        "fetch_full": source.fetch_full,
        "headers": sorted(source.headers.items()),
        "include": source.filters.include,
        "exclude": source.filters.exclude,
    }
    return hashlib.sha1(orjson.dumps(shape), usedforsecurity=False).hexdigest()


def encode_items(items: list[SourceItem]) -> bytes:
    records = []
    for item in items:
        record: dict[str, Any] = {
            "s": item.source,
            "k": item.key,
            "u": item.url,
            "t": item.title,
            "p": item.published.isoformat() if item.published else None,
            "h": item.content_html,
            "a": item.author,
            "c": list(item.categories),
            "f": item.fetch_full,
        }
        if item.image is not None:
            record["i"] = item.image
            record["is"] = list(item.image_size) if item.image_size else None
        if item.enclosures:
            record["e"] = [[e.url, e.type, e.length] for e in item.enclosures]
        if item.raw is not None:
            record["r"] = base64.b64encode(item.raw).decode("ascii")
            record["ct"] = item.content_type
            record["fn"] = item.filename
        records.append(record)
    return zlib.compress(orjson.dumps(records), 1)


def decode_items(data: bytes) -> list[SourceItem]:
    """Items from `encode_items`; ValueError when the bytes are not such a list."""
    try:
        records = orjson.loads(zlib.decompress(data))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise ValueError(f"unreadable cached items: {exc}") from None
    return [
        SourceItem(
            source=r["s"],
            key=r["k"],
            url=r["u"],
            title=r["t"],
            published=datetime.fromisoformat(r["p"]) if r["p"] else None,
            content_html=r["h"],
            raw=base64.b64decode(r["r"]) if "r" in r else None,
            content_type=r.get("ct"),
            author=r["a"],
            categories=tuple(r["c"]),
            fetch_full=r["f"],
            filename=r.get("fn"),
            image=r.get("i"),
            image_size=(r["is"][0], r["is"][1]) if r.get("is") else None,
            enclosures=tuple(Enclosure(*e) for e in r.get("e", ())),
        )
        for r in records
    ]
