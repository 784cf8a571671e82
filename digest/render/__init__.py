"""Render one issue once, then make each recipient's message from it by cheap substitution.

Per-recipient values never reach rendering: templates see a `recipient` whose fields are
placeholder tokens, the issue is rendered, inlined and fitted to its size budget once, and
each recipient's message is the frozen output with their values substituted, escaped for the
context each token landed in. The modules, in the order an issue goes through them:

    inputs        IssueContent, RenderSettings: what rendering is given
    environment   what templates see (context, article view, safe links), Jinja and its
                  filters, the subject line: the file to open to change the email
    i18n          the email's words (gettext catalogs) and dates (babel) in the digest's locale
    catalogs      `python -m digest.render.catalogs`: extract, merge and compile the catalogs
    placeholders  the recipient placeholder tokens, and checks that templates kept them whole
    inline        premailer CSS inlining, long HTML lines folded, the text part tidied
    fit           render_issue: render once, fitted to the size budget -> RenderedIssue
    frozen        RenderedIssue, and FrozenBody: a part split at its placeholders
    cache         RenderCache: an unchanged issue is not rendered again
    lint          render_report, lint_email_html: what check and preview report
    headers       header encoding and folding (RFC 5322, RFC 2047)
    mime          the one MIME builder; build_message for one-off messages (confirmations)
    message       MessageTemplate: the issue's per-recipient messages; render_preview
"""

from digest.render.cache import RenderCache, render_key
from digest.render.environment import DEFAULT_TEMPLATE_DIR, render_subject
from digest.render.fit import render_issue
from digest.render.frozen import RenderedIssue, article_from_json, article_to_json
from digest.render.inline import inline_css
from digest.render.inputs import IssueContent, RenderSettings
from digest.render.lint import lint_email_html, render_report
from digest.render.message import MessageTemplate, personalize_all, render_preview
from digest.render.mime import build_message

__all__ = [
    "DEFAULT_TEMPLATE_DIR",
    "IssueContent",
    "MessageTemplate",
    "RenderCache",
    "RenderSettings",
    "RenderedIssue",
    "article_from_json",
    "article_to_json",
    "build_message",
    "inline_css",
    "lint_email_html",
    "personalize_all",
    "render_issue",
    "render_key",
    "render_preview",
    "render_report",
    "render_subject",
]
