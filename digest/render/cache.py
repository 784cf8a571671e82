"""The render cache: the last rendering of each digest, reused while nothing it depends on
has changed."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import asdict
from pathlib import Path

from digest import __version__
from digest.render.environment import DEFAULT_TEMPLATE_DIR
from digest.render.fit import render_issue
from digest.render.frozen import RenderedIssue, article_to_json
from digest.render.i18n import LOCALE_DIR
from digest.render.inputs import IssueContent, RenderSettings

__all__ = ["RenderCache", "render_key"]

log = logging.getLogger(__name__)


class RenderCache:
    """The last rendering of each digest, kept in a file and reused while nothing it depends on
    has changed.

    A run whose sources all answered 304 composes the same issue as the run before; rendering
    and inlining it again (and importing premailer to do so) would be most of that run's work.
    The key covers everything the output depends on: the content (articles with their
    summaries, date, extras), the settings, every template and catalog file's bytes, and the
    rendering code's own files (size and modification time), so an edit anywhere renders afresh. One
    file per digest; a damaged or foreign file is ignored and replaced.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def render(self, content: IssueContent, settings: RenderSettings) -> RenderedIssue:
        key = render_key(content, settings)
        path = self.folder / f"render-{re.sub(r'[^A-Za-z0-9_.-]', '_', settings.digest_name)}.json"
        try:
            stored = json.loads(path.read_bytes())
            if stored.get("key") == key:
                return RenderedIssue.from_json(stored["rendered"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # nothing cached yet, or unreadable: render afresh
        rendered = render_issue(content, settings)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
            partial.write_text(json.dumps({"key": key, "rendered": rendered.to_json()}))
            partial.replace(path)  # atomic: a concurrent reader sees the old file or the new
        except OSError as exc:
            log.warning("could not keep the rendered issue in %s: %s", self.folder, exc)
        return rendered


def render_key(content: IssueContent, settings: RenderSettings) -> str:
    """A digest of everything `render_issue(content, settings)` depends on (see RenderCache)."""
    described = {
        "version": __version__,
        "content": {
            "issue_id": content.issue_id,
            "issue_date": content.issue_date.isoformat(),
            "articles": [article_to_json(a) for a in content.articles],
            "preheader": content.preheader,
            "source_titles": content.source_titles,
            "image_sizes": content.image_sizes,
            "intro": content.intro,
        },
        "settings": asdict(settings),
    }
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode())
    for path in _code_files():
        info = path.stat()
        digest.update(f"\0{path.name}:{info.st_size}:{info.st_mtime_ns}".encode())
    folders = [Path(settings.template_dir)] if settings.template_dir else []
    for folder in [*folders, DEFAULT_TEMPLATE_DIR, LOCALE_DIR]:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                digest.update(f"\0{path.relative_to(folder)}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _code_files() -> list[Path]:
    """The code a rendering depends on: this package, the text cutter and the models."""
    package = Path(__file__).resolve().parent
    return [*sorted(package.glob("*.py")), package.parent / "text.py", package.parent / "models.py"]
