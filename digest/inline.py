"""CSS inlining with premailer, kept apart so that only a run that renders pays its import.

Importing premailer (with cssutils, requests and urllib3 behind it) costs about 70 ms, more than
the inlining itself; a run whose issue is unchanged (see `digest.render`'s render cache) or a
command that never renders does not need it.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from premailer import Premailer

from digest.errors import RenderError

logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)  # it logs every unknown property


class _Premailer(Premailer):
    """Premailer that parses each distinct stylesheet once per process, not once per render.

    Premailer re-serializes every property through cssutils on each call, about half its
    time for our stylesheet, which is the same for every issue. The parsed rules are plain
    tuples of strings, safe to share; leftovers (pseudo-classes, media rules) are re-parsed.
    """

    _cache: ClassVar[dict[tuple[str, int], list[Any]]] = {}

    def _parse_style_rules(self, css_body: str, ruleset_index: int) -> tuple[list[Any], list[Any]]:
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
    try:
        return str(
            _Premailer(
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
