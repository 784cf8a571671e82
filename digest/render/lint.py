"""What `digest check` and `digest preview` report about a rendered issue: size and lint."""

from __future__ import annotations

from lxml import etree

from digest.render.frozen import RenderedIssue
from digest.render.inputs import RenderSettings

__all__ = ["lint_email_html", "render_report"]


def render_report(rendered: RenderedIssue, settings: RenderSettings) -> list[str]:
    """Lines for `digest check` / `digest preview`: size against budget, fitting, lint."""
    budget = settings.size_budget
    state = "OVER BUDGET" if rendered.html_size > budget else "within budget"
    lines = [
        f"HTML {rendered.html_size:,} bytes of a {budget:,}-byte budget ({state}); "
        f"{len(rendered.articles)} articles in full, {len(rendered.more)} in more stories"
    ]
    lines += [f"warning: {w}" for w in rendered.warnings]
    lines += [f"lint: {p}" for p in lint_email_html(rendered.html)]
    return lines


def lint_email_html(html: str) -> list[str]:
    """Problems that make an email inaccessible or break in clients; empty when clean."""
    problems: list[str] = []
    try:
        root = etree.fromstring(html.encode(), etree.HTMLParser(encoding="utf-8"))
    except etree.ParserError as exc:
        return [f"HTML does not parse: {exc}"]
    if root is None:
        return ["HTML is empty"]
    if not (root.get("lang") or "").strip():
        problems.append("<html> has no lang attribute")
    if not root.get("dir"):
        problems.append("<html> has no dir attribute")
    if not root.xpath("//meta[@name='viewport']"):
        problems.append("no viewport meta")
    for i, img in enumerate(root.iter("img"), 1):
        if img.get("alt") is None:
            problems.append(f"image {i} ({img.get('src', '?')[:60]}) has no alt attribute")
    for i, table in enumerate(root.iter("table"), 1):
        if table.get("role") != "presentation":
            problems.append(f'table {i} has no role="presentation"')
    if list(root.iter("script")):
        problems.append("contains <script>")
    for link in root.iter("link"):
        if "stylesheet" in (link.get("rel") or "").lower():
            problems.append(f"external stylesheet {link.get('href')}")
    for style in root.iter("style"):
        if "@import" in (style.text or ""):
            problems.append("a <style> imports an external stylesheet")
    for a in root.iter("a"):
        if not "".join(a.itertext()).strip() and not a.xpath(".//img[@alt!='']"):
            problems.append(f"link {a.get('href', '?')[:60]} has no text")
    return problems
