"""Fidelity, proven differentially: feedparser's own test corpus read by Digest and by feedparser.

Per entry, title, link, id, date, the body as text and the links in the body must agree; every
difference is either fixed or listed in DIVERGENCES with the reason Digest reads it otherwise.
The corpus is vendored in tests/data/feedparser (see its README for the commit and license).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.sources.fidelity import CORPUS, Difference, differences_in_corpus

_RELATIVE_ID = (
    "an Atom id is an opaque identifier: Digest keeps it as written (and makes it the link only "
    "when it is an absolute http(s) URL); feedparser resolves it against xml:base as a URI"
)
_SANITIZER = (
    "what the sanitizer keeps, not what the parser read: nh3 parses HTML as browsers do "
    "(script bodies dropped, iframe contents raw text, `<!'` a bogus comment); feedparser's "
    "own sanitizer already ran on its side"
)
_LAST_WINS = (
    "an entry with the same date element twice: Digest takes the first (document order), "
    "feedparser the last"
)
_ENCLOSURE_LINK = (
    "Atom links without href: Digest prefers rel=alternate, as the file's own Expect line says "
    "(feedparser's reading takes the enclosure)"
)

# file (relative to tests/data/feedparser) -> (fields that differ, why)
DIVERGENCES: dict[str, tuple[frozenset[str], str]] = {
    "encoding/double-encoded-html.xml": (
        frozenset({"content"}),
        "character references spelling UTF-8 bytes (&#226;&#128;&#166;): Digest reads them as "
        "written (HTML5's reading), feedparser guesses double encoding and repairs it",
    ),
    "encoding/bozo_double-encoded-html.xml": (
        frozenset({"content"}),
        "the same double-encoding guess as double-encoded-html.xml",
    ),
    "encoding/bozo_linenoise.xml": (
        frozenset({"content"}),
        "a document of noise bytes with no charset: the detector reads Cyrillic, feedparser "
        "Windows-1252; neither is right",
    ),
    "wellformed/atom/entry_created_multiple_values.xml": (frozenset({"date"}), _LAST_WINS),
    "wellformed/atom/entry_updated_multiple_values.xml": (frozenset({"date"}), _LAST_WINS),
    "wellformed/atom/entry_link_no_href_link_priority.xml": (frozenset({"link"}), _ENCLOSURE_LINK),
    "wellformed/atom10/entry_link_no_href_link_priority.xml": (
        frozenset({"link"}),
        _ENCLOSURE_LINK,
    ),
    "wellformed/atom/entry_link_rel_enclosure_no_href.xml": (frozenset({"link"}), _ENCLOSURE_LINK),
    "wellformed/atom10/entry_link_rel_enclosure_no_href.xml": (
        frozenset({"link"}),
        _ENCLOSURE_LINK,
    ),
    "wellformed/atom10/entry_id_no_normalization_4.xml": (
        frozenset({"link", "id"}),
        "an id written HTTP://: Digest keeps ids as written and makes links only of http(s) "
        "ids in lower case; feedparser lower-cases the scheme while resolving",
    ),
    "wellformed/atom10/entry_id_with_attributes.xml": (frozenset({"link", "id"}), _RELATIVE_ID),
    "wellformed/base/http_entry_id_base_content_location.xml": (
        frozenset({"link", "id"}),
        _RELATIVE_ID,
    ),
    "wellformed/base/http_entry_id_base_docuri.xml": (frozenset({"link", "id"}), _RELATIVE_ID),
    "wellformed/lang/http_content_language_entry_title_inherit_2.xml": (
        frozenset({"link", "id"}),
        _RELATIVE_ID,
    ),
    "wellformed/node_precedence/atom10_id.xml": (frozenset({"link", "id"}), _RELATIVE_ID),
    "wellformed/node_precedence/atom10_title.xml": (
        frozenset({"title"}),
        "the <title> of an <image> inside the entry is not the entry's title (the file's own "
        "Expect line agrees with Digest)",
    ),
    "wellformed/rss/item_category_image.xml": (
        frozenset({"entry"}),
        "an item with no title but an <image><title> inside a <category>: that title is the "
        "image's, not the item's",
    ),
    "wellformed/rss/item_description_and_summary.xml": (
        frozenset({"content"}),
        "an RSS item with <description> and a non-standard <summary>: Digest's body is the "
        "standard description, feedparser files the summary as content",
    ),
    "wellformed/rss/item_guid_isPermaLink_ValueError.xml": (
        frozenset({"entry"}),
        "a guid that is not a valid URL (a [ in the host): Digest keeps the id as written and "
        "the email drops the link later (safe_url); feedparser drops both",
    ),
    "wellformed/rss/item_description_not_a_doctype.xml": (
        frozenset({"entry"}),
        _SANITIZER,
    ),
    "wellformed/sanitize/entry_content_crazy.xml": (frozenset({"content"}), _SANITIZER),
    "wellformed/sanitize/entry_summary_crazy.xml": (frozenset({"content"}), _SANITIZER),
    "wellformed/sanitize/entry_title_crazy.xml": (frozenset({"title"}), _SANITIZER),
    "wellformed/sanitize/item_content_encoded_crazy.xml": (frozenset({"content"}), _SANITIZER),
    "wellformed/sanitize/item_description_crazy.xml": (frozenset({"content"}), _SANITIZER),
    "wellformed/sanitize/item_fullitem_crazy.xml": (frozenset({"content"}), _SANITIZER),
    "wellformed/sanitize/entry_content_iframe.xml": (frozenset({"content"}), _SANITIZER),
    "wellformed/sanitize/item_content_encoded_script_nested_cdata.xml": (
        frozenset({"content"}),
        _SANITIZER,
    ),
}

ENTRY_FIELDS = ("title", "link", "content")


@pytest.mark.slow
def test_digest_reads_feedparsers_corpus_as_feedparser_does() -> None:
    entries = agreeing = listed_entries = 0
    unexplained: list[Difference] = []
    seen: dict[str, set[str]] = {}
    routes: Counter[str] = Counter()
    for path, count, differences, route in differences_in_corpus():
        name = path.relative_to(CORPUS).as_posix()
        routes[route.split(" (")[0]] += 1
        fields, _ = DIVERGENCES.get(name, (frozenset(), ""))
        if name in DIVERGENCES:
            listed_entries += count
        else:
            entries += count
            differing = {(d.index, d.field) for d in differences}
            agreeing += sum(
                1
                for index in range(count)
                if not any((index, f) in differing for f in (*ENTRY_FIELDS, "entry"))
            )
        for difference in differences:
            seen.setdefault(name, set()).add(difference.field)
            if difference.field not in fields:
                unexplained.append(difference)
    print(
        f"\n{entries + listed_entries} entries in the corpus, {listed_entries} in listed files; "
        f"outside the list {agreeing}/{entries} agree on title, link and content "
        f"({100 * agreeing / entries:.2f} %); paths taken: {dict(routes)}"
    )
    assert not unexplained, "\n".join(
        f"{d.file}#{d.index} {d.field}: ours {d.ours!r}, feedparser {d.theirs!r}"
        for d in unexplained
    )
    stale = {
        name for name, (fields, _) in DIVERGENCES.items() if not fields & seen.get(name, set())
    }
    assert not stale, f"listed divergences that no longer happen: {sorted(stale)}"
    assert entries > 600  # entries with something in them; the rest test feed-level elements
    assert agreeing / entries >= 0.995
