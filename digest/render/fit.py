"""Render one issue once, fitting it to its size budget.

    content + settings
      -> template context (digest.render.environment: outside text made safe)
      -> Jinja (issue.html, issue.txt; StrictUndefined) -> premailer (digest.render.inline)
      -> size budget: drop images, then shorten summaries, then move the last articles to "more"
      -> RenderedIssue (digest.render.frozen: frozen HTML and text with placeholder tokens)

Gmail clips HTML over about 102 KB and hides the rest, unsubscribe link included, so an issue
over its budget gives things up in the order of least harm. Summaries are shortened with
`digest.text.cut_to_words`, the cut the lead summarizer makes: whole sentences while they fit
(abbreviations such as "U.S." end none), else the first sentence cut at a word with "…", quotes
and brackets balanced.
"""

from __future__ import annotations

from dataclasses import replace

import jinja2

from digest.errors import RenderError
from digest.models import Recipient
from digest.render.environment import (
    Plan,
    environment,
    render_subject,
    safe_url,
    template_context,
)
from digest.render.frozen import FrozenBody, RenderedIssue, SpecTable
from digest.render.inline import fold_long_lines, inline_css, tidy_text
from digest.render.inputs import IssueContent, RenderSettings
from digest.render.placeholders import TemplateRecipient, check_tokens, nonce_for, token_pattern

__all__ = ["SUMMARY_STEPS", "render_issue"]

SUMMARY_STEPS = (40, 20)  # word limits tried, in order, when the issue is over budget


def render_issue(
    content: IssueContent,
    settings: RenderSettings,
    *,
    recipient: Recipient | None = None,
    nonce: str | None = None,
) -> RenderedIssue:
    """Render the issue once, fitting its size budget; see the module docstring.

    With `recipient`, the same issue is rendered directly with that recipient's values (the
    budget decisions are still made on the placeholder render, so both agree); it is the
    reference personalization is checked against, and too slow to use per recipient.
    `nonce` fixes the placeholder tokens, for golden files.
    """
    if not content.articles:
        raise RenderError("an issue needs at least one article")
    nonce = nonce or nonce_for(content, settings)
    placeholders = TemplateRecipient(nonce)
    plan, html, text, warnings = _fit_to_budget(content, settings, placeholders)
    check_tokens(html, nonce, "HTML")
    check_tokens(text, nonce, "text")
    size = len(html.encode())
    pattern = token_pattern(nonce)
    # Where each placeholder landed must be a context personalization can escape for;
    # finding out now makes a template mistake a render error, not a send-time one.
    FrozenBody.from_html(html, pattern, SpecTable())
    if recipient is None:
        html = fold_long_lines(html, pattern)
    else:
        guide = html
        html, text = _render_once(content, settings, plan, TemplateRecipient(nonce, recipient))
        html = fold_long_lines(html, pattern, guide)
    count = len(content.articles) if plan.full_count is None else plan.full_count
    articles, more = list(content.articles[:count]), list(content.articles[count:])
    return RenderedIssue(
        subject=render_subject(settings, content, list(content.articles)),
        html=html,
        text=text,
        html_size=size,
        warnings=warnings,
        articles=articles,
        more=more,
        nonce=nonce,
    )


def _render_once(
    content: IssueContent,
    settings: RenderSettings,
    plan: Plan,
    recipient: TemplateRecipient,
) -> tuple[str, str]:
    """One Jinja and premailer pass with the plan's choices; template mistakes are RenderErrors."""
    env = environment(settings.template_dir, settings.locale)
    ctx = template_context(content, settings, plan, recipient)
    try:
        raw_html = env.get_template("issue.html").render(ctx)
        text = env.get_template("issue.txt").render(ctx)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"email template not found: {exc.name}") from exc
    except jinja2.UndefinedError as exc:
        raise RenderError(f"email template: {exc.message}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"email template {exc.filename}:{exc.lineno}: {exc.message}") from exc
    return inline_css(raw_html), tidy_text(text)


def _fit_to_budget(
    content: IssueContent, settings: RenderSettings, recipient: TemplateRecipient
) -> tuple[Plan, str, str, list[str]]:
    """Render, then give things up in the issue's order of least harm until it fits.

    Gmail clips HTML over about 102 KB and hides the rest (unsubscribe link included).
    """
    budget = settings.size_budget
    plan = Plan()
    html, text = _render_once(content, settings, plan, recipient)

    def size_of(h: str) -> int:
        return len(h.encode())

    if size_of(html) <= budget:
        return plan, html, text, []
    warnings = [f"HTML is {size_of(html):,} bytes, over the {budget:,}-byte budget"]
    if settings.images != "none" and any(
        safe_url(a.image) in content.image_sizes for a in content.articles
    ):  # only pictures that are shown: those of known size
        plan = replace(plan, images=False)
        html, text = _render_once(content, settings, plan, recipient)
        warnings.append(f"dropped images: {size_of(html):,} bytes")
    for words in SUMMARY_STEPS:
        if size_of(html) <= budget:
            break
        plan = replace(plan, summary_words=words)
        html, text = _render_once(content, settings, plan, recipient)
        warnings.append(f"shortened summaries to {words} words: {size_of(html):,} bytes")
    if size_of(html) > budget:
        # The largest number of full articles that fits, by bisection (few renders).
        lo, hi = 0, len(content.articles) - 1
        best: tuple[Plan, str, str] | None = None
        while lo <= hi:
            mid = (lo + hi) // 2
            trial = replace(plan, full_count=mid)
            h, t = _render_once(content, settings, trial, recipient)
            if size_of(h) <= budget:
                best, lo = (trial, h, t), mid + 1
            else:
                hi = mid - 1
        if best is None:
            best_plan = replace(plan, full_count=0)
            best = (best_plan, *_render_once(content, settings, best_plan, recipient))
        plan, html, text = best
        moved = len(content.articles) - (plan.full_count or 0)
        warnings.append(f"moved the last {moved} articles to the more-stories list")
    if size_of(html) > budget:
        warnings.append(f"still over budget at {size_of(html):,} bytes; Gmail will clip it")
    else:
        warnings.append(f"now {size_of(html):,} bytes, within budget")
    return plan, html, text, warnings
