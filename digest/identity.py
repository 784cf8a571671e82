"""Stable identities for items, so one story is never sent twice in a digest.

An item is known within its source by its guid/id, else its link, else a hash of its title and
date (`item_key`). Across sources and issues a story is known by its link's key (`url_key`):
what the same story's links differ in is normalized away, so two feeds carrying it, or one feed
changing its tracking, still name one story.

    scheme, www., trailing slash, fragment     dropped
    default ports (:80, :443), dot segments     dropped
    percent-encoding, IDNA hosts                one spelling (url-normalize, on the slow path)
    tracking parameters (utm_*, fbclid, ...)    dropped; the others sorted

Keys carry their version (`u2:...`). What a digest has sent is stored under the key of its
time; `dedupe_keys` gives a story's key now and its keys of earlier versions, so a store written
before an upgrade is still read right and no story is sent again (`KEY_VERSION` history below).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["KEY_VERSION", "dedupe_key", "dedupe_keys", "item_key", "url_key"]

KEY_VERSION = 2
"""1: scheme-less host/path?query, unprefixed (until issue 14); 2: normalized, prefixed u2:."""
_PREFIX = f"u{KEY_VERSION}:"

TRACKING = frozenset(
    {
        "fbclid", "gclid", "gbraid", "wbraid", "dclid", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "hsctatracking", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "ref", "ref_src", "s_cid", "cmpid", "at_medium", "at_campaign",
    }
)  # fmt: skip
"""Query parameters that only say where a click came from (compared in lower case)."""

# The usual shape, which needs no normalizing beyond case and tracking: an ASCII http(s) URL
# without percent-escapes, dot segments, user info or unusual query characters.
_PLAIN = re.compile(
    r"^https?://([a-z0-9.-]+)(:\d+)?(/[A-Za-z0-9/._~!$'()*,;=:@-]*)?"
    r"(?:\?([A-Za-z0-9_.~=&-]*))?(?:#.*)?$"
)
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _tracking(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("utm_") or lower in TRACKING


def _query(query: str) -> str:
    """The query without tracking parameters, its pairs sorted, their spelling kept."""
    pairs = [pair for pair in query.split("&") if pair and not _tracking(pair.partition("=")[0])]
    return "&".join(sorted(pairs))


@lru_cache(maxsize=65536)
def url_key(url: str | None) -> str | None:
    """The link as stories are compared across feeds and issues (see the module's docstring)."""
    if not url or not url.strip():
        return None
    url = url.strip()
    plain = _PLAIN.match(url)
    query = plain.group(4) or "" if plain else ""
    if (
        plain
        and not _DOT_SEGMENT.search(plain.group(3) or "")
        and all(pair.count("=") <= 1 for pair in query.split("&"))  # else url-normalize quotes
    ):
        scheme = url[: url.index(":")]
        port = plain.group(2) or ""
        host = plain.group(1).removeprefix("www.")
        if port == _DEFAULT_PORTS[scheme]:
            port = ""
        path = (plain.group(3) or "").rstrip("/") or "/"
        query = _query(query)
        return f"{_PREFIX}{host}{port}{path}?{query}" if query else f"{_PREFIX}{host}{port}{path}"
    return _general_key(url)


def _general_key(url: str) -> str:
    from url_normalize import url_normalize  # lazy: 30 ms to import, for unusual links only

    try:
        normal = url_normalize(url, default_scheme="https")
        parts = urlsplit(normal or url)
    except (ValueError, UnicodeError):
        return f"{_PREFIX}{url}"
    if not parts.netloc or parts.scheme.lower() not in ("http", "https"):
        return f"{_PREFIX}{url}"
    host = parts.netloc.rpartition("@")[2].lower()  # user info names no other story
    host = host.removeprefix("www.").removesuffix(_DEFAULT_PORTS[parts.scheme.lower()])
    path = parts.path.rstrip("/") or "/"
    query = _query(parts.query)
    return f"{_PREFIX}{host}{path}?{query}" if query else f"{_PREFIX}{host}{path}"


# -- version 1, kept to read what was stored before version 2 ---------------------------------

_TRACKING_V1 = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "ref",
    "ref_src",
}
_PLAIN_V1 = re.compile(
    r"^https?://([A-Za-z0-9.:-]+)(/[A-Za-z0-9/._~%!$'()*,;=:@-]*)?(?:\?([A-Za-z0-9_.~=&-]*))?(?:#.*)?$"
)


@lru_cache(maxsize=65536)
def url_key_v1(url: str | None) -> str | None:
    """The link's key as version 1 wrote it (frozen: stored keys depend on it)."""
    if not url:
        return None
    url = url.strip()
    plain = _PLAIN_V1.match(url)
    if plain and all(pair.count("=") <= 1 for pair in (plain.group(3) or "").split("&")):
        host = plain.group(1).lower().removeprefix("www.")
        path = (plain.group(2) or "").rstrip("/") or "/"
        pairs = []
        for pair in (plain.group(3) or "").split("&"):
            if pair:
                name, _, value = pair.partition("=")
                if not name.lower().startswith("utm_") and name.lower() not in _TRACKING_V1:
                    pairs.append((name, value))
        joined = "&".join(f"{name}={value}" for name, value in sorted(pairs))
        return f"{host}{path}?{joined}" if joined else f"{host}{path}"
    parts = urlsplit(url)
    if not parts.netloc:
        return url.strip() or None
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_V1
    ]
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("", host, path, urlencode(sorted(query)), "")).removeprefix("//")


# -- items and stories ------------------------------------------------------------------------


def item_key(
    guid: str | None, link: str | None, title: str | None, published: datetime | None
) -> str:
    """The identity of an item within its source.

    Stored with each article; a link's part is version 1's key, kept so that an upgrade does
    not make every stored article new again (stories are compared by `dedupe_key`)."""
    if guid and guid.strip():
        return guid.strip()[:900]
    if link and (key := url_key_v1(link)):
        return key[:900]
    digest = hashlib.sha256(
        f"{(title or '').strip()}|{published.isoformat() if published else ''}".encode()
    ).hexdigest()
    return f"sha256:{digest}"


def dedupe_key(source: str, key: str, link: str | None) -> str:
    """What a digest remembers as sent: the link's key when there is one, else source + key."""
    return url_key(link) or f"{source}:{key}"


def dedupe_keys(source: str, key: str, link: str | None) -> tuple[str, ...]:
    """The story's key now, then the keys earlier versions stored it under (to look up)."""
    current = dedupe_key(source, key, link)
    legacy = url_key_v1(link)
    return (current, legacy) if legacy and legacy != current else (current,)
