"""The frozen issue: stored as JSON, and filled per recipient exactly as lxml would write it."""

from __future__ import annotations

import json
import random

import pytest
from lxml import etree
from render_samples import sample_content, sample_settings

from digest.render import RenderedIssue, render_issue
from digest.render.frozen import escape_text, serialize_attribute
from digest.render.placeholders import clean_value


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(sample_content(6), sample_settings())


def test_rendered_issue_round_trips_through_json(rendered: RenderedIssue) -> None:
    again = RenderedIssue.from_json(json.loads(json.dumps(rendered.to_json())))
    assert again == rendered


@pytest.mark.parametrize("seed", range(4))
def test_escapers_match_lxml_on_random_values(seed: int) -> None:
    """Random values, cleaned as recipients' are, escaped exactly as libxml2 writes them."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x20, 0x7F)] + list("\t\n\u00a0éü€😀\u200b")
    for _ in range(500):
        value = clean_value("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))))
        el = etree.Element("p")
        el.text = value
        out = etree.tostring(el, method="html", encoding="unicode")
        assert escape_text(value) == out[3:-4], value
        for tag, attr, uri in (("p", "title", False), ("a", "href", True), ("img", "src", True)):
            el = etree.Element(tag)
            el.set(attr, value)
            out = etree.tostring(el, method="html", encoding="unicode")
            expected = out[len(f"<{tag} {attr}=") : out.index(">")]
            assert serialize_attribute(value, uri) == expected, (tag, value)


@pytest.mark.parametrize("value", ["a\rb", "\r lead", "\n\t lead", "x\n y", "&#13; &amp;"])
def test_attribute_escaping_matches_lxml_on_raw_text(value: str) -> None:
    """Raw (uncleaned) text as template literals can hold it, next to a field."""
    for tag, attr, uri in (("p", "title", False), ("a", "href", True)):
        el = etree.Element(tag)
        el.set(attr, value)
        out = etree.tostring(el, method="html", encoding="unicode")
        assert serialize_attribute(value, uri) == out[len(f"<{tag} {attr}=") : out.index(">")]
