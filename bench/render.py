"""Render a 30-article issue once, then personalize it into complete MIME messages.

    .venv/bin/python bench/render.py [--recipients 20000]

Prints the machine, each stage's time, the per-recipient alternatives it replaces (a full
re-render and a stdlib MIME build per recipient), and whether the targets are met:
render + inline once <= 100 ms; >= 10,000 personalized MIME messages a second on one core;
memory flat in the number of recipients.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "render"))

from render_samples import sample_content, sample_settings

from digest.models import Recipient
from digest.render import MessageTemplate, inline_css, personalize_all, render_issue
from digest.render.environment import Plan, environment, template_context
from digest.render.placeholders import TemplateRecipient

FIRST = ["Ada", "Grace", "O'Neil & Sons", "Zoë", "Łukasz", "Mary-Jane", "李", "<b>Bob</b>"]
LAST = ["Lovelace", "Hopper", "Ünal", "Smith", "Nakamura", "da Silva"]


def recipients(n: int) -> Iterator[Recipient]:
    """A realistic mix of names (some non-ASCII, some needing escaping), made lazily."""
    pool = list(_make_recipients(1000))
    for i in range(n):
        yield pool[i % len(pool)]


def _make_recipients(n: int) -> Iterator[Recipient]:
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        yield Recipient(
            delivery_id=i,
            subscriber_id=100_000 + i,
            email=f"reader{i}@example.com",
            name=f"{first} {last}" if i % 5 else "",
            attributes={"city": "Springfield"},
            unsubscribe_url=f"https://digest.example.org/u/{i}.k7Hq2xV9sQpZ",
            preferences_url=f"https://digest.example.org/preferences/{i}.Jq8vLm2T",
            web_url=f"https://digest.example.org/issues/42?d={i}&s=Yt3bN8",
        )


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median CPU time of `runs` calls, in milliseconds (this process only: the machine
    may be shared, and wall time would count other processes' turns)."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def stdlib_message(html: str, text: str, r: Recipient) -> bytes:
    msg = EmailMessage()
    msg["From"] = "The Example Brief <news@example.org>"
    msg["To"] = f"{r.name} <{r.email}>" if r.name else r.email
    msg["Subject"] = "The Example Brief — 26 November 2026"
    msg["List-Unsubscribe"] = f"<{r.unsubscribe_url}>"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def personalize_rate(template: MessageTemplate, n: int) -> tuple[float, float, int]:
    """Messages per second of CPU time and of wall time, and the average message size."""
    cpu, wall = time.process_time(), time.perf_counter()
    total = 0
    for message in personalize_all(template, recipients(n)):
        total += len(message.mime)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return n / cpu, n / wall, total // n


def peak_memory(template: MessageTemplate, n: int) -> int:
    tracemalloc.start()
    for message in personalize_all(template, recipients(n)):
        del message
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=20_000)
    args = parser.parse_args()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load}; times are CPU time of this process, one core"
    )
    content = sample_content(30)
    settings = sample_settings()

    # Stages, measured one by one (as render_issue runs them).
    nonce = "0123456789"
    plan = Plan()
    ctx_recipient = TemplateRecipient(nonce)
    env = environment(settings.template_dir, settings.locale)
    context = template_context(content, settings, plan, ctx_recipient)
    raw_html = env.get_template("issue.html").render(context)
    jinja_html = timed(lambda: env.get_template("issue.html").render(context), 20)
    jinja_text = timed(lambda: env.get_template("issue.txt").render(context), 20)
    inline = timed(lambda: inline_css(raw_html), 10)
    whole = timed(lambda: render_issue(content, settings), 10)
    rendered = render_issue(content, settings)
    print(
        f"issue: {len(content.articles)} articles, HTML {rendered.html_size:,} bytes "
        f"(budget {settings.size_budget:,}), text {len(rendered.text.encode()):,} bytes"
    )
    print(f"  Jinja HTML         {jinja_html:7.2f} ms")
    print(f"  Jinja text part    {jinja_text:7.2f} ms")
    print(f"  premailer inline   {inline:7.2f} ms")
    print(f"  render_issue total {whole:7.2f} ms   (target <= 100 ms)")

    build = timed(lambda: MessageTemplate.build(rendered, settings, issue_key="bench"), 10)
    template = MessageTemplate.build(rendered, settings, issue_key="bench")
    print(f"  MessageTemplate.build {build:7.2f} ms (once per issue)")

    # What substitution replaces.
    sample = list(recipients(5))
    rerender = timed(lambda: render_issue(content, settings, recipient=sample[1]), 5)
    stdlib = timed(lambda: stdlib_message(rendered.html, rendered.text, sample[1]), 20)
    one = timed(lambda: template.personalize(sample[1]), 2000)
    print("per recipient:")
    print(f"  re-render + inline      {rerender:8.3f} ms  ({1000 / rerender:,.0f} messages/s)")
    print(f"  stdlib MIME build       {stdlib:8.3f} ms  ({1000 / stdlib:,.0f} messages/s)")
    print(f"  substitution (median)   {one:8.3f} ms")

    rate, wall_rate, size = personalize_rate(template, args.recipients)
    print(
        f"  personalize_all: {args.recipients:,} complete MIME messages (avg {size:,} bytes): "
        f"{rate:,.0f} messages per CPU-second on one core (target >= 10,000); "
        f"{wall_rate:,.0f}/s wall clock"
    )

    small, large = peak_memory(template, 1_000), peak_memory(template, 10_000)
    print(
        f"  peak traced memory: {small / 1e6:.2f} MB for 1,000 recipients, "
        f"{large / 1e6:.2f} MB for 10,000"
    )

    checks = {
        "render + inline once <= 100 ms": whole <= 100,
        ">= 10,000 messages/s": rate >= 10_000,
        "memory flat in recipients (10x recipients, < 1.5x peak)": large < 1.5 * small,
    }
    for name, ok in checks.items():
        print(f"{'MET   ' if ok else 'MISSED'} {name}")


if __name__ == "__main__":
    main()
