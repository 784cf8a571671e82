"""After Jinja: CSS inlined with premailer, long HTML lines folded, the text part tidied.

Importing premailer (with cssutils, requests and urllib3 behind it) costs about 70 ms, more than
the inlining itself; a run whose issue is unchanged (see `digest.render.cache`) or a command
that never renders does not need it, so it is imported on the first inlining.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any, ClassVar

from digest.errors import RenderError

__all__ = ["HTML_LINE_LIMIT", "fold_long_lines", "inline_css", "tidy_text"]

HTML_LINE_LIMIT = 990  # RFC 5322 allows 998 bytes a line; keep a margin for CRLF


@cache
def _premailer_class() -> Any:
    """Premailer that parses each distinct stylesheet once per process, not once per render.

    Premailer re-serializes every property through cssutils on each call, about half its
    time for our stylesheet, which is the same for every issue. The parsed rules are plain
    tuples of strings, safe to share; leftovers (pseudo-classes, media rules) are re-parsed.
    """
    from premailer import Premailer  # lazy: ~70 ms of imports that a run with no render skips

    logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)  # it logs every unknown property

    class CachingPremailer(Premailer):
        _cache: ClassVar[dict[tuple[str, int], list[Any]]] = {}

        def _parse_style_rules(
            self, css_body: str, ruleset_index: int
        ) -> tuple[list[Any], list[Any]]:
            key = (css_body, ruleset_index)
            rules = self._cache.get(key)
            if rules is None:
                rules, leftover = super()._parse_style_rules(css_body, ruleset_index)
                if not leftover:
                    if len(self._cache) > 64:
                        self._cache.clear()
                    self._cache[key] = rules
                return rules, leftover
            return list(rules), []

    return CachingPremailer


def inline_css(html: str) -> str:
    """Inline the <style> rules into style attributes, keeping what must stay in <head>.

    Premailer's defaults would break the email: `strip_important=True` removes `!important`
    from the media-query rules (inline styles then beat the mobile and dark styles), and its
    basic-attribute pass turns `width:100%` into `width="100%"` on images, replacing the pixel
    width Outlook needs. The base template keeps its media queries in a
    `<style data-premailer="ignore">` block, which premailer leaves verbatim (and is faster
    for it); media queries in operators' ordinary <style> blocks keep `!important` too.
    Floating-image alignment is off: it re-parses every image's style and we float none.
    Remote stylesheets are never fetched.
    """
    premailer = _premailer_class()
    try:
        return str(
            premailer(
                html,
                strip_important=False,
                disable_basic_attributes=["width", "height"],
                allow_network=False,
                allow_loading_external_files=False,
                keep_style_tags=False,
                remove_classes=False,
                exclude_pseudoclasses=True,
                cssutils_logging_level=logging.CRITICAL,
                cache_css_parsing=True,
                disable_validation=True,
                align_floating_images=False,
            ).transform()
        )
    except Exception as exc:  # premailer raises bare library errors on broken CSS/HTML
        raise RenderError(f"inlining CSS failed: {exc}") from exc


def fold_long_lines(html: str, keep: re.Pattern[str], guide: str | None = None) -> str:
    """Break lines longer than HTML_LINE_LIMIT bytes at spaces between attributes in tags.

    Such a newline changes nothing a browser shows and keeps the 8bit MIME part legal. Lines
    holding a recipient placeholder (matched by `keep` in `guide`, the placeholder render of
    the same issue) are never folded, so where folds go does not depend on anyone's values
    and a direct render for one recipient folds exactly like the frozen issue. Lines that
    cannot be folded are left to personalization's quoted-printable fallback.
    """
    guide_lines = (guide if guide is not None else html).split("\n")
    out = []
    for line, reference in zip(html.split("\n"), guide_lines, strict=True):
        if keep.search(reference) is None:
            while len(line.encode()) > HTML_LINE_LIMIT:
                cut = _attribute_gap(line, HTML_LINE_LIMIT)
                if cut is None:
                    break
                out.append(line[:cut])
                line = line[cut + 1 :]
        out.append(line)
    return "\n".join(out)


def _attribute_gap(line: str, limit: int) -> int | None:
    """Index of the last space between two attributes within the first `limit` bytes."""
    best = None
    in_tag = False
    quote = ""
    size = 0
    for i, ch in enumerate(line):
        size += len(ch.encode())
        if size > limit and best is not None:
            break
        if quote:
            if ch == quote:
                quote = ""
        elif in_tag:
            if ch in "\"'":
                quote = ch
            elif ch == ">":
                in_tag = False
            elif ch == " " and i > 0 and i + 1 < len(line) and line[i + 1] not in " />":
                best = i
        elif ch == "<":
            in_tag = True
    return best


def tidy_text(text: str) -> str:
    """The text part: no trailing spaces, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return tidy + "\n"
