"""Stable identities for items, so one story is never sent twice in a digest.

An item is known by its guid/id, else its canonical link, else a hash of its title and date.
Links are compared without tracking parameters (utm_*, fbclid...), fragments or a trailing slash,
so the same story carried by two feeds is recognized.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref", "ref_src"}


_PLAIN = re.compile(
    r"^https?://([A-Za-z0-9.:-]+)(/[A-Za-z0-9/._~%!$'()*,;=:@-]*)?(?:\?([A-Za-z0-9_.~=&-]*))?(?:#.*)?$"
)


@lru_cache(maxsize=65536)
def url_key(url: str | None) -> str | None:
    """The link as compared across feeds: scheme-less, lower-case host, no tracking, no fragment."""
    if not url:
        return None
    url = url.strip()
    plain = _PLAIN.match(url)
    # The usual shape, without the cost of urllib; a value holding "=" needs urllib's quoting.
    if plain and all(pair.count("=") <= 1 for pair in (plain.group(3) or "").split("&")):
        host = plain.group(1).lower().removeprefix("www.")
        path = (plain.group(2) or "").rstrip("/") or "/"
        pairs = []
        for pair in (plain.group(3) or "").split("&"):
            if pair:
                name, _, value = pair.partition("=")
                if not name.lower().startswith("utm_") and name.lower() not in _TRACKING:
                    pairs.append((name, value))
        joined = "&".join(f"{name}={value}" for name, value in sorted(pairs))
        return f"{host}{path}?{joined}" if joined else f"{host}{path}"
    parts = urlsplit(url)
    if not parts.netloc:
        return url.strip() or None
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING
    ]
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("", host, path, urlencode(sorted(query)), "")).removeprefix("//")


def item_key(
    guid: str | None, link: str | None, title: str | None, published: datetime | None
) -> str:
    """The identity of an item within its source."""
    if guid and guid.strip():
        return guid.strip()[:900]
    if link and (key := url_key(link)):
        return key[:900]
    digest = hashlib.sha256(
        f"{(title or '').strip()}|{published.isoformat() if published else ''}".encode()
    ).hexdigest()
    return f"sha256:{digest}"


def dedupe_key(source: str, key: str, link: str | None) -> str:
    """What a digest remembers as sent: the link's key when there is one, else source + key."""
    return url_key(link) or f"{source}:{key}"
