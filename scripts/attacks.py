"""Rerun the trust issue's attacks against real `digest` processes and say which held.

    .venv/bin/python scripts/attacks.py              every attack
    .venv/bin/python scripts/attacks.py bomb ssrf    those whose name holds one of these words

Each attack starts `digest` as a real process (this checkout's, in a fresh data directory, as the
suite's tests/cli/process.py does), feeds it hostile input from a local HTTP server or a file,
and checks what the issue asks for: the exit code, the one line printed, the process's peak
memory (from wait4), what reached the outbox. One line per attack; the exit code is 1 when any
did not hold.

The suite holds a test per point (each fails without its fix); this script is the end-to-end
rerun of the attacks themselves, slower and louder (bombs of a gigabyte and more).
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cli.process import digest_web, run_digest  # noqa: E402  (helpers live with the tests)
from tests.conftest import free_port  # noqa: E402
from tests.sources.hostile import (  # noqa: E402
    Handler,
    HostileServer,
    big_brotli_bomb,
    rss,
    stacked_gzip_bomb,
    story_items,
)

MEMORY_CEILING_MB = 300


@dataclass
class Outcome:
    held: bool
    detail: str


Attack = Callable[[Path], Outcome]
ATTACKS: list[tuple[str, str, Attack]] = []


def attack(point: str, name: str) -> Callable[[Attack], Attack]:
    def register(function: Attack) -> Attack:
        ATTACKS.append((point, name, function))
        return function

    return register


@dataclass
class Ran:
    """What a `digest` process did, and how long it took (whole process)."""

    code: int
    said: str  # standard output and error together
    peak_mb: float
    seconds: float


def digest(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Ran:
    started = time.monotonic()
    done = run_digest(*args, env=env, timeout=timeout)
    return Ran(
        done.returncode,
        (done.stdout + done.stderr).strip(),
        done.peak_mb,
        time.monotonic() - started,
    )


def configuration(folder: Path, sources: dict[str, str], extra: str = "") -> Path:
    """A digest `d` over `sources` (name -> URL or path), one reader, the outbox, home in folder."""
    (folder / "readers.csv").write_text("email,name\nada@example.org,Ada\n")
    (folder / "feed.xml").write_bytes(rss(story_items(2)))  # a quiet local feed, for "feed.xml"
    tables = "\n".join(
        f'[sources.{name}]\nkind = "feed"\nurl = "{url}"\ntimeout = 15\n'
        for name, url in sources.items()
    )
    path = folder / "digest.toml"
    path.write_text(
        f"""home = "home"
[web]
base_url = "https://news.example.org"
[providers.outbox]
kind = "outbox"
{tables}
[lists.readers]
title = "Readers"
subscribers = "readers.csv"
[digests.d]
title = "The Brief"
sources = {json.dumps(list(sources))}
list = "readers"
provider = "outbox"
from = "The Brief <brief@news.example.org>"
schedule = "0 8 * * MON"
window = "3650d"
postal_address = "1 Quay Street, Hamburg"
{extra}
"""
    )
    return path


@contextlib.contextmanager
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer().start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def web_app(config: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """`digest web` on a free port; yields its base URL and the file its output goes to."""
    log = config.parent / "web.log"
    with digest_web("-c", str(config), log=log, env=env) as base:
        yield base, log


def mb(value: float) -> str:
    return f"{value:.0f} MB peak"


# -- 1. decompression is capped as it happens ----------------------------------------------------


def bomb_route(body: bytes, encoding: str) -> Callable[[Handler], None]:
    def serve(handler: Handler) -> None:
        handler.send(200, body, "application/rss+xml", {"Content-Encoding": encoding})

    return serve


def preview_of_a_bomb(folder: Path, body: bytes, encoding: str) -> Outcome:
    with hostile_server() as server:
        bomb = server.route("/bomb.xml", bomb_route(body, encoding))
        good = server.static("/good.xml", rss(story_items(2)))
        config = configuration(folder, {"bomb": bomb, "good": good})
        done = digest("preview", "d", "-c", str(config), "--out", str(folder / "out"))
    held = (
        "larger than" in done.said
        and done.peak_mb < MEMORY_CEILING_MB
        and (folder / "out" / "issue.html").exists()
    )
    return Outcome(held, f"exit {done.code}, {mb(done.peak_mb)}, the other source's issue written")


@attack("13.1", "brotli bomb (1 GB from ~1 KB) in a feed, digest preview")
def brotli_bomb_preview(folder: Path) -> Outcome:
    return preview_of_a_bomb(folder, big_brotli_bomb(1), "br")


@attack("13.1", "gzip, gzip bomb (1 GB) in a feed, digest preview")
def stacked_bomb_preview(folder: Path) -> Outcome:
    return preview_of_a_bomb(folder, stacked_gzip_bomb(1), "gzip, gzip")


@attack("13.1", "brotli bomb behind digest extract URL")
def brotli_bomb_extract(folder: Path) -> Outcome:
    with hostile_server() as server:
        bomb = server.route("/page.html", bomb_route(big_brotli_bomb(1), "br"))
        done = digest("extract", bomb)
    lines = [line for line in done.said.splitlines() if line.strip()]
    held = (
        "larger than" in done.said
        and done.peak_mb < MEMORY_CEILING_MB
        and "Traceback" not in done.said
    )
    return Outcome(
        held, f"exit {done.code}, {mb(done.peak_mb)}, said: {lines[-1][:90] if lines else ''}"
    )


# -- 2. the signing key is never weak -----------------------------------------------------------


@attack("13.2", "four digest processes starting together on a fresh data directory")
def processes_racing_for_the_key(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    env = {"DIGEST_SECRET_KEY": ""}  # unset: the key file is made
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: digest("status", "-c", str(config), env=env), range(4)))
    key = folder / "home" / "secret.key"
    mode = stat.S_IMODE(key.stat().st_mode) if key.exists() else 0
    home_mode = stat.S_IMODE((folder / "home").stat().st_mode)
    held = (
        all(run.code == 0 for run in runs)
        and len(key.read_bytes().strip()) >= 32
        and mode == 0o600
        and home_mode == 0o700
        and [p.name for p in key.parent.iterdir() if p.name.startswith(("secret", ".secret"))]
        == ["secret.key"]
    )
    codes = ",".join(str(run.code) for run in runs)
    return Outcome(held, f"exits {codes}; key file {mode:o}, home {home_mode:o}, one key file")


@attack("13.2", "a 16-byte signing key in the environment")
def short_key(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    done = digest("status", "-c", str(config), env={"DIGEST_SECRET_KEY": "0123456789abcdef"})
    lines = done.said.splitlines()
    held = done.code == 2 and len(lines) == 1 and "32" in done.said
    return Outcome(held, f"exit {done.code}; {lines[-1][:110] if lines else ''}")


# -- 3. no fetch reaches a private network unless the operator allows it ------------------------


@attack("13.3", "feed redirecting to 169.254.169.254 (cloud metadata)")
def redirect_to_metadata(folder: Path) -> Outcome:
    def redirect(handler: Handler) -> None:
        handler.send(
            302, b"", "text/plain", {"Location": "http://169.254.169.254/latest/meta-data/"}
        )

    with hostile_server() as server:
        sneaky = server.route("/feed.xml", redirect)
        good = server.static("/good.xml", rss(story_items(2)))
        config = configuration(folder, {"sneaky": sneaky, "good": good})
        done = digest("preview", "d", "-c", str(config), "--out", str(folder / "out"))
    refused = "169.254.169.254" in done.said and "link-local" in done.said
    held = refused and (folder / "out" / "issue.html").exists()
    reason = next((line for line in done.said.splitlines() if "169.254" in line), "")
    return Outcome(held, f"exit {done.code}; {reason.strip()[:110]}")


@attack("13.3", "item link to a private host, fetched for its full text")
def item_link_to_private_host(folder: Path) -> Outcome:
    items = story_items(1)
    items[0]["link"] = "http://10.0.0.7/admin"
    items[0]["description"] = "Teaser."  # a teaser: its page would be fetched for the full text
    with hostile_server() as server:
        feed = server.static("/feed.xml", rss(items))
        config = configuration(folder, {"feed": feed})
        done = digest("preview", "d", "-c", str(config), "--out", str(folder / "out"))
    held = "10.0.0.7" in done.said and "private" in done.said
    reason = next((line for line in done.said.splitlines() if "10.0.0.7" in line), "")
    return Outcome(held, f"exit {done.code}; {reason.strip()[:110]}")


# -- 4. item HTML is sanitized in bounded time ----------------------------------------------------


@attack("13.4", "200,000 nested <div>s in an item body")
def nested_divs(folder: Path) -> Outcome:
    depth = 200_000
    body = "<![CDATA[" + "<div>" * depth + "deep text" + "</div>" * depth + "]]>"
    items = story_items(2)
    items[0]["description"] = body
    with hostile_server() as server:
        feed = server.static("/feed.xml", rss(items))
        config = configuration(folder, {"feed": feed})
        done = digest("preview", "d", "-c", str(config), "--out", str(folder / "out"))
    held = done.code == 0 and done.seconds < 30 and (folder / "out" / "issue.html").exists()
    return Outcome(
        held, f"exit {done.code} in {done.seconds:.1f} s (whole process), {mb(done.peak_mb)}"
    )


# -- 5. exports are safe to open in a spreadsheet ---------------------------------------------


@attack("13.5", "formulas in subscriber fields, exported then imported back")
def formulas_in_exports(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    rows = folder / "rows.csv"
    rows.write_text(
        'email,name\nbea@example.org,"=HYPERLINK(""http://evil.example/"",""x"")"\n'
        "carl@example.org,+1 555 0100\ndana@example.org,@SUM(A1)\n"
    )
    digest("subscribers", "import", "readers", str(rows), "-c", str(config))
    exported = folder / "export.csv"
    done = digest("subscribers", "export", "readers", "-c", str(config), "--out", str(exported))
    text = exported.read_text() if exported.exists() else ""
    again = digest("subscribers", "import", "readers", str(exported), "-c", str(config))
    held = (
        done.code == 0
        and "'=HYPERLINK" in text
        and "'+1 555" in text
        and "'@SUM" in text
        and "0 updated" in again.said
    )
    last = (again.said.splitlines() or [""])[-1]
    return Outcome(held, f"cells start with ' in the export; import again: {last[:80]}")


# -- 8 and 9: crashes and outages, through the suite's real-process tests ------------------------
# Killing a sender mid-batch and cutting the store off at a firing need choreography (an SMTP
# server counting what it received, a TCP proxy in front of PostgreSQL) that the suite's tests
# already do against real `digest` processes and servers; they are rerun here, not copied.


def suite_attack(point: str, name: str, *tests: str) -> None:
    def run(folder: Path) -> Outcome:
        env = {
            **os.environ,
            "DIGEST_TEST_POSTGRES_URL": os.environ.get(
                "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
            ),
        }
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *tests],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        summary = (done.stdout.strip().splitlines() or [""])[-1]
        held = done.returncode == 0 and "skipped" not in summary
        return Outcome(
            held, f"{summary.strip('= ')} ({', '.join(t.split('::')[-1] for t in tests)})"
        )

    ATTACKS.append((point, name, run))


suite_attack(
    "13.8",
    "SMTP sender SIGKILLed twice mid-send among 1,500 recipients",
    "tests/send/test_dispatch.py::"
    "test_smtp_killed_twice_mid_send_sends_at_most_one_message_twice_per_kill",
)
suite_attack(
    "13.8",
    "Postmark and Mailgun batches accepted, answer lost or sender killed: reconciled, not resent",
    "tests/send/test_dispatch.py::"
    "test_an_accepted_batch_whose_answer_was_lost_is_found_at_the_provider_not_resent",
    "tests/send/test_dispatch.py::"
    "test_a_sender_killed_after_the_provider_accepted_is_reconciled_by_the_next",
)
suite_attack(
    "13.9",
    "PostgreSQL unreachable at a firing: claimed when back, or missed with the reason",
    "tests/service/test_outage.py",
)


# -- 10. bad rows stay bad rows ------------------------------------------------------------------


# -- 6 and 7. sign-up: no mail bombs, no relayed text, consent -----------------------------------


def outbox_messages(folder: Path, expect: int = 0) -> list[bytes]:
    """The .eml files written so far (confirmations go out after the answer: wait a little)."""
    outbox = folder / "home" / "outbox"
    for _ in range(40):
        found = sorted(outbox.glob("*.eml")) if outbox.exists() else []
        if len(found) > expect:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # one more, if the limit let one through
    return [path.read_bytes() for path in sorted(outbox.glob("*.eml"))] if outbox.exists() else []


@attack("13.6", "40 sign-ups of one address from 40 clients behind the proxy, and a restart")
def signup_mail_bomb(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"}, extra="")
    text = config.read_text().replace(
        'base_url = "https://news.example.org"',
        'base_url = "https://news.example.org"\ntrusted_proxies = ["127.0.0.1"]',
    )
    config.write_text(text)
    spam = "Cheap pills at spam.example.net"
    statuses = []
    for round_ in range(2):  # the second is a restarted process on the same store
        with web_app(config) as (base, _log):
            for n in range(20):
                answer = httpx.post(
                    base + "/subscribe",
                    data={"email": "victim@example.org", "list": "readers", "name": spam},
                    headers={"X-Forwarded-For": f"198.51.{round_}.{n}"},
                )
                statuses.append(answer.status_code)
            sent = outbox_messages(folder)
    relayed = any(b"spam.example" in message for message in sent)
    held = statuses == [202] * 40 and len(sent) == 1 and not relayed
    return Outcome(
        held,
        f"answers {sorted(set(statuses))}, {len(sent)} message(s) sent, name relayed: {relayed}",
    )


@attack("13.6", "X-Forwarded-For forged by a client with no proxy configured")
def forged_forwarded_for(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    with web_app(config) as (base, _log):
        statuses = [
            httpx.post(
                base + "/subscribe",
                json={"email": f"r{n}@example.org", "list": "readers"},
                headers={"X-Forwarded-For": f"6.6.6.{n}"},
            ).status_code
            for n in range(7)
        ]
    held = statuses[:5] == [202] * 5 and statuses[5:] == [429, 429]
    return Outcome(held, f"answers {statuses} (a client's burst is 5)")


@attack("13.7", "a sign-up posted by another site (Origin, text/plain JSON)")
def cross_site_signup(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    body = b'{"email": "victim@example.org", "list": "readers"}'
    with web_app(config) as (base, _log):
        form = httpx.post(
            base + "/subscribe",
            data={"email": "victim@example.org", "list": "readers"},
            headers={"Origin": "https://evil.example"},
        )
        plain = httpx.post(
            base + "/subscribe", content=body, headers={"Content-Type": "text/plain"}
        )
        sent = outbox_messages(folder)
    done = digest("subscribers", "show", "victim@example.org", "-c", str(config))
    held = form.status_code == 403 and plain.status_code == 415 and sent == []
    return Outcome(
        held,
        f"cross-site form: {form.status_code}, text/plain: {plain.status_code}, "
        f"{len(sent)} sent; show: {(done.said.splitlines() or [''])[0][:50]}",
    )


@attack("13.7", "a list that says nothing takes double opt-in; single opt-in warned")
def consent_by_default(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    with web_app(config) as (base, _log):
        answer = httpx.post(
            base + "/subscribe", json={"email": "new@example.org", "list": "readers"}
        )
        sent = outbox_messages(folder)
    config.write_text(
        config.read_text() + '\n[lists.walk-in]\ntitle = "W"\ndouble_opt_in = false\n'
    )
    checked = digest("check", "-c", str(config))
    warned = "lists.walk-in.double_opt_in" in checked.said
    held = answer.status_code == 202 and len(sent) == 1 and b"/confirm/" in sent[0] and warned
    return Outcome(held, f"{len(sent)} confirmation sent; check warns: {warned}")


@attack("13.10", "NUL and control characters in CSV rows")
def control_characters_in_csv(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    rows = folder / "rows.csv"
    rows.write_bytes(
        b"email,name\nbea@example.org,Bea\ncarl@example.org,Ca\x00rl\n"
        b"dana@example.org,Da\x1bna\neve@example.org,Eve\n"
    )
    done = digest("subscribers", "import", "readers", str(rows), "-c", str(config))
    listed = digest("subscribers", "export", "readers", "-c", str(config))
    held = (
        done.code == 0
        and "bea@example.org" in listed.said
        and "eve@example.org" in listed.said
        and "carl@example.org" not in listed.said
        and "Traceback" not in done.said
    )
    reasons = [line.strip() for line in done.said.splitlines() if "control" in line.lower()]
    return Outcome(held, f"exit {done.code}; {'; '.join(reasons)[:120]}")


@attack("13.10", "NUL byte and deep JSON posted to /subscribe")
def bad_signup_bodies(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    deep = "[" * 100_000 + "]" * 100_000
    with web_app(config) as (base, _log):
        nul = httpx.post(
            base + "/subscribe", data={"email": "a\x00@example.org", "list": "readers"}
        )
        nested = httpx.post(
            base + "/subscribe", content=deep, headers={"Content-Type": "application/json"}
        )
    held = nul.status_code == 400 and nested.status_code == 400
    return Outcome(held, f"NUL: {nul.status_code}, 100,000-deep JSON: {nested.status_code}")


# -- 11. headers stay within the standards -------------------------------------------------------


@attack("13.11", "5,000-character subject and a name with a colon, quotes, comma")
def hostile_headers(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"}, extra=f'subject = "{"A" * 5000}"')
    (folder / "readers.csv").write_text(
        'email,name\nada@example.org,"Mallory: ""admin"", Esq. <root@example.org>"\n'
    )
    done = digest("run", "d", "-c", str(config))
    sent = sorted((folder / "home" / "outbox").glob("*.eml"))
    if done.code != 0 or len(sent) != 1:
        return Outcome(False, f"exit {done.code}, {len(sent)} messages; {done.said[-100:]}")
    raw = sent[0].read_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    longest = max(len(line) for line in raw.split(b"\r\n"))
    to = parsed["To"].addresses
    held = (
        longest <= 998
        and len(to) == 1
        and to[0].addr_spec == "ada@example.org"
        and len(str(parsed["Subject"])) <= 250
        and not parsed.defects
    )
    return Outcome(held, f"longest line {longest} octets; To {to[0].display_name!r}")


# -- 12. smaller points ---------------------------------------------------------------------------


@attack("13.12", "unsubscribe token in the access log")
def token_in_access_log(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    token = "WzEsMV0.secretlookingtokenvalue0123"
    with web_app(config) as (base, log):
        httpx.get(f"{base}/unsubscribe/{token}")
        time.sleep(0.3)
    text = log.read_text()
    held = token not in text and "/unsubscribe/" in text
    shown = next((line for line in text.splitlines() if "/unsubscribe/" in line), "")
    return Outcome(held, f"logged as: {shown.strip()[-70:]}")


@attack("13.12", "provider token with a line break, digest check")
def token_unfit_for_a_header(folder: Path) -> Outcome:
    config = configuration(folder, {"feed": "feed.xml"})
    secret = "tok-123\r\nX-Injected: yes"
    text = config.read_text().replace(
        '[providers.outbox]\nkind = "outbox"',
        '[providers.outbox]\nkind = "outbox"\n[providers.pm]\nkind = "postmark"\n'
        'token_env = "ATTACK_POSTMARK_TOKEN"',
    )
    config.write_text(text.replace('provider = "outbox"', 'provider = "pm"'))
    done = digest("check", "-c", str(config), env={"ATTACK_POSTMARK_TOKEN": secret})
    held = done.code == 2 and "tok-123" not in done.said and "ATTACK_POSTMARK_TOKEN" in done.said
    return Outcome(held, f"exit {done.code}; {(done.said.splitlines() or [''])[-1][:110]}")


@attack("13.12", "SMTP server without STARTTLS while TLS is required")
def smtp_without_starttls(folder: Path) -> Outcome:
    from aiosmtpd.controller import Controller  # lazy: a test dependency, only this attack

    class Inbox:
        received: ClassVar[list[str]] = []

        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            Inbox.received.append(envelope.mail_from)
            return "250 OK"

    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = configuration(folder, {"feed": "feed.xml"})
        text = config.read_text().replace(
            '[providers.outbox]\nkind = "outbox"',
            '[providers.outbox]\nkind = "outbox"\n[providers.mail]\nkind = "smtp"\n'
            f'host = "127.0.0.1"\nport = {port}',
        )
        config.write_text(text.replace('provider = "outbox"', 'provider = "mail"'))
        done = digest("run", "d", "-c", str(config))
    finally:
        controller.stop()
    said = " ".join(done.said.split())  # the console wraps long lines
    held = (
        done.code == 1
        and "1 pending" in said
        and "failed" not in said
        and said.count("does not offer STARTTLS") <= 2  # the summary and the log line
        and "providers.mail.tls" in said
        and Inbox.received == []
        and "Traceback" not in said
    )
    reason = said[said.find("smtp server") :] if "smtp server" in said else said[-110:]
    return Outcome(held, f"exit {done.code}, deliveries pending; {reason[:100]}")


@attack("13.12", 'feed declaring encoding="rot13", in Windows-1252')
def non_text_charset_label(folder: Path) -> Outcome:
    config = configuration(folder, {"labelled": "labelled.xml"})
    items = story_items(2)
    items[0]["title"] = "Café crème at the “Bistro”"
    body = rss(items).replace(b'encoding="utf-8"', b'encoding="rot13"')
    (folder / "labelled.xml").write_bytes(body.decode().encode("cp1252"))
    done = digest("run", "d", "-c", str(config))
    sent = sorted((folder / "home" / "outbox").glob("*.eml"))
    text = ""
    if sent:
        parsed = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
        plain = parsed.get_body(("plain",))
        text = plain.get_content() if isinstance(plain, email.message.EmailMessage) else ""
    held = done.code == 0 and "Café crème at the “Bistro”" in text
    found = next((line.strip() for line in text.splitlines() if "Bistro" in line), "")
    return Outcome(held, f"exit {done.code}; title read as {found[:60]!r}")


def main(words: list[str]) -> int:
    chosen = [
        (point, name, function)
        for point, name, function in ATTACKS
        if not words or any(word.lower() in (name + function.__name__).lower() for word in words)
    ]
    print(
        f"{len(chosen)} attacks against `digest` ({sys.version.split()[0]}, "
        f"{os.cpu_count()} cores); memory ceiling {MEMORY_CEILING_MB} MB"
    )
    failed = 0
    for point, name, function in chosen:
        with tempfile.TemporaryDirectory(prefix="attack-") as folder:
            try:
                outcome = function(Path(folder))
            except Exception as error:  # an attack that could not run is reported, not held
                outcome = Outcome(False, f"could not run: {type(error).__name__}: {error}")
        failed += not outcome.held
        print(
            f"{point:6} {'held' if outcome.held else 'FAILED':6} {name}: {outcome.detail}",
            flush=True,
        )
    print(f"{len(chosen) - failed} held, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
