"""The render cache: an unchanged issue is not rendered again; any change renders afresh.

Each real render picks a new random nonce for its placeholder tokens, so the nonce tells a
rendering read back from the cache from a new one.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from render_samples import sample_content, sample_settings

from digest.render import DEFAULT_TEMPLATE_DIR, RenderCache, render_key


def test_unchanged_issue_comes_back_from_the_cache(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    first = cache.render(sample_content(6), sample_settings())
    again = cache.render(sample_content(6), sample_settings())
    assert again.nonce == first.nonce
    assert again.to_json() == first.to_json()
    # and a fresh cache (another process, say) reads the same file
    assert RenderCache(tmp_path / "cache").render(sample_content(6), sample_settings()).html == (
        first.html
    )


def test_changed_content_or_settings_render_afresh(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    first = cache.render(sample_content(6), sample_settings())
    content = sample_content(6)
    content.articles[2].summary = "An editor rewrote this summary."
    edited = cache.render(content, sample_settings())
    assert edited.nonce != first.nonce
    assert "An editor rewrote this summary." in edited.html
    retitled = cache.render(content, sample_settings(title="The Other Brief"))
    assert retitled.nonce != edited.nonce
    assert "The Other Brief" in retitled.html


def test_a_template_edit_renders_afresh(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, templates)
    settings = sample_settings(template_dir=templates)
    cache = RenderCache(tmp_path / "cache")
    first = cache.render(sample_content(4), settings)
    before = render_key(sample_content(4), settings)
    base = templates / "base.html"
    assert "</body>" in base.read_text()
    base.write_text(base.read_text().replace("</body>", "<p>Edited.</p></body>"))
    assert render_key(sample_content(4), settings) != before
    edited = cache.render(sample_content(4), settings)
    assert edited.nonce != first.nonce
    assert "Edited." in edited.html and "Edited." not in first.html


def test_a_damaged_cache_file_is_replaced(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    first = cache.render(sample_content(3), sample_settings())
    (file,) = (tmp_path / "cache").iterdir()
    file.write_text('{"key": "truncat')
    second = cache.render(sample_content(3), sample_settings())
    assert second.nonce != first.nonce
    assert cache.render(sample_content(3), sample_settings()).nonce == second.nonce


def test_the_issue_date_is_part_of_the_key() -> None:
    content = sample_content(3)
    later = replace(content, issue_date=content.issue_date.replace(day=1))
    if later.issue_date == content.issue_date:
        later = replace(content, issue_date=content.issue_date.replace(day=2))
    assert render_key(content, sample_settings()) != render_key(later, sample_settings())
