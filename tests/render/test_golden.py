"""The example issue, byte for byte: any change to templates or inlining shows up here.

Regenerate after an intended change with `UPDATE_GOLDEN=1` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from render_samples import sample_content, sample_recipient, sample_settings

from digest.render import lint_email_html, render_issue, render_preview
from tests.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"
NONCE = "0123456789"  # fixed placeholder nonce, so the frozen output is reproducible


def check_golden(name: str, actual: str) -> None:
    assert_golden(GOLDEN / name, actual)


@pytest.mark.parametrize("images", [True, False], ids=["images", "no-images"])
def test_example_issue_matches_golden_files(images: bool) -> None:
    suffix = "" if images else "-no-images"
    rendered = render_issue(sample_content(6, images=images), sample_settings(), nonce=NONCE)
    assert lint_email_html(rendered.html) == []
    check_golden(f"issue{suffix}.html", rendered.html)
    check_golden(f"issue{suffix}.txt", rendered.text)
    check_golden(f"subject{suffix}.txt", rendered.subject + "\n")
    html, text = render_preview(rendered, sample_recipient(1, name="O'Neil & Sons"))
    check_golden(f"preview{suffix}.html", html)
    check_golden(f"preview{suffix}.txt", text)


def test_a_german_issue_matches_golden_files() -> None:
    """The same issue with locale = "de": German words, German dates, <html lang="de">."""
    settings = sample_settings(locale="de", language="de")
    rendered = render_issue(sample_content(6), settings, nonce=NONCE)
    assert lint_email_html(rendered.html) == []
    check_golden("issue-de.html", rendered.html)
    check_golden("issue-de.txt", rendered.text)
    check_golden("subject-de.txt", rendered.subject + "\n")
    html, text = render_preview(rendered, sample_recipient(1, name="Jürgen Weiß"))
    check_golden("preview-de.html", html)
    check_golden("preview-de.txt", text)
