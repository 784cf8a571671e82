from __future__ import annotations

import asyncio
from pathlib import Path

from digest.config import load_config
from digest.fetch import Fetcher
from digest.sources import gather
from digest.sources.feed import parse_feed, plain_text, sanitize_html
from digest.sources.folder import read_folder


def test_example_sources_gather_offline(example_dir: Path) -> None:
    config = load_config(example_dir / "example.toml")

    async def go() -> object:
        async with Fetcher() as fetcher:
            return await gather(config, ["harbour-gazette", "newsroom"], fetcher)

    result = asyncio.run(go())
    assert result.failures == {}  # type: ignore[attr-defined]
    assert result.counts == {"harbour-gazette": 3, "newsroom": 3}  # type: ignore[attr-defined]


def test_feed_titles_are_plain_and_bodies_sanitized(example_dir: Path) -> None:
    config = load_config(example_dir / "example.toml")
    source = config.sources["harbour-gazette"]
    content = (example_dir / "example" / "harbour-gazette.xml").read_bytes()
    items = parse_feed("g", source, content, "https://gazette.example.org/feed.xml")
    titles = [item.title for item in items]
    assert "Fish market & food hall: council approves a bold redesign" in titles
    assert items[0].key == "gazette-ferry-returns"
    assert items[0].author == "Mara Olsen" and items[0].categories == ("Transport",)
    assert items[0].content_html is not None and "<p>" in items[0].content_html


def test_broken_sources_are_reported_and_others_go_on(tmp_path: Path, example_dir: Path) -> None:
    (example_dir / "example" / "broken.xml").write_text("<html><body>not a feed</body></html>")
    toml = (example_dir / "example.toml").read_text()
    toml += '\n[sources.broken]\nkind = "feed"\nurl = "example/broken.xml"\n'
    (example_dir / "example.toml").write_text(toml)
    config = load_config(example_dir / "example.toml")

    async def go() -> object:
        async with Fetcher() as fetcher:
            return await gather(config, ["broken", "newsroom"], fetcher)

    result = asyncio.run(go())
    assert list(result.failures) == ["broken"]  # type: ignore[attr-defined]
    assert "not a feed" in result.failures["broken"]  # type: ignore[attr-defined]
    assert result.counts == {"newsroom": 3}  # type: ignore[attr-defined]


def test_sanitize_and_plain_text() -> None:
    dirty = '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:x">l</a></p>'
    clean = sanitize_html(dirty)
    assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
    assert plain_text("<b>Bold</b> &amp; <i>brave</i>\n  title") == "Bold & brave title"


def test_folder_reads_supported_files_newest_first(tmp_path: Path) -> None:
    import os

    (tmp_path / "a.md").write_text("# A\n\nBody")
    (tmp_path / "b.txt").write_text("B\n\nBody")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.md").write_text("# H")
    os.utime(tmp_path / "a.md", (1_000_000, 1_000_000))
    items = read_folder("f", tmp_path, 10)
    assert [item.key for item in items] == ["file:b.txt", "file:a.md"]
    assert items[1].content_type == "text/markdown" and items[1].filename == "a.md"
