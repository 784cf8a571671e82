from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import find_config, load_config, parse_window
from digest.errors import ConfigError
from tests.conftest import EXAMPLE


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_example_config_is_valid(example_dir: Path) -> None:
    config = load_config(example_dir / "example.toml")
    digest = config.digests["example"]
    assert digest.sources == ["harbour-gazette", "newsroom"]
    assert digest.from_ == "The Example Brief <brief@news.example.org>"
    assert digest.window_delta.days == 7
    assert config.resolve("example/articles").is_dir()


def test_misspelled_key_is_named_with_its_path(example_dir: Path) -> None:
    path = example_dir / "example.toml"
    path.write_text(path.read_text().replace("max_articles =", "max_article ="))
    problems = _problems(path)
    assert problems == [f"{path}: digests.example.max_article: unknown key (check its spelling)"]


def test_every_problem_is_reported_at_once(example_dir: Path) -> None:
    path = example_dir / "example.toml"
    text = path.read_text()
    text = text.replace('schedule = "0 8 * * MON"', 'schedule = "0 25 * * MON"')
    text = text.replace('timezone = "Europe/Berlin"', 'timezone = "Europe/Atlantis"')
    text = text.replace(
        'sources = ["harbour-gazette", "newsroom"]', 'sources = ["harbour", "newsroom"]'
    )
    text = text.replace('list = "readers"', 'list = "nobody"')
    text = text.replace('path = "example/articles"', 'path = "example/missing"')
    path.write_text(text)
    problems = "\n".join(_problems(path))
    assert f"{path}: digests.example.schedule: bad cron expression" in problems
    assert f"{path}: digests.example.timezone: unknown time zone 'Europe/Atlantis'" in problems
    # references and folders are checked only once every key is valid on its own
    path.write_text(text.replace("0 25 * * MON", "0 8 * * MON").replace("Atlantis", "Berlin"))
    problems = "\n".join(_problems(path))
    assert f"{path}: digests.example.sources[0]: no source named 'harbour'" in problems
    assert f"{path}: digests.example.list: no list 'nobody'" in problems
    assert f"{path}: sources.newsroom.path: folder" in problems and "does not exist" in problems


def test_provider_needs_its_secret_variable_name(tmp_path: Path) -> None:
    path = _write(tmp_path, '[providers.pm]\nkind = "postmark"\n')
    assert _problems(path) == [f"{path}: providers.pm: a postmark provider needs token_env"]


def test_smtp_tls_and_its_former_name_security(tmp_path: Path) -> None:
    smtp = '[providers.mail]\nkind = "smtp"\nhost = "mail.example.org"\n'
    assert load_config(_write(tmp_path, smtp)).providers["mail"].smtp_tls == "starttls"
    for line in ('tls = "none"', 'security = "none"', 'tls = "none"\nsecurity = "none"'):
        config = load_config(_write(tmp_path, smtp + line))
        assert config.providers["mail"].smtp_tls == "none"
    [problem] = _problems(_write(tmp_path, smtp + 'tls = "tls"\nsecurity = "none"'))
    assert "providers.mail" in problem and "disagree" in problem
    [problem] = _problems(_write(tmp_path, smtp + 'tls = "ssl"'))
    assert "providers.mail.tls" in problem


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[digests.x\ntitle = 1\n")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}: not valid TOML")
    [missing] = _problems(tmp_path / "nope.toml")
    assert missing == f"{tmp_path / 'nope.toml'}: no such file"


def test_wrong_types_and_values(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[providers.out]
kind = "carrier-pigeon"
[sources.a]
kind = "feed"
url = "https://example.org/feed.xml"
filters = { include = ["/([unclosed/"] }
[lists.l]
title = "L"
[digests.d]
title = "D"
sources = ["a"]
list = "l"
provider = "out"
from = "not an address"
window = "7 fortnights"
max_articles = 0
""",
    )
    problems = "\n".join(_problems(path))
    assert "providers.out.kind: Input should be" in problems
    assert "digests.d.from: 'not an address' is not an address" in problems
    assert "digests.d.window: '7 fortnights' is not a duration" in problems
    assert "digests.d.max_articles: Input should be greater than or equal to 1" in problems


def test_regex_filters_are_checked(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[sources.a]\nkind = "feed"\nurl = "https://e.org/f"\nfilters = { exclude = ["/([x/"] }\n',
    )
    [problem] = _problems(path)
    assert "sources.a.filters.exclude[0]: bad regular expression" in problem


def test_find_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "example.toml").write_text("")
    assert find_config() == Path("config/example.toml")
    (tmp_path / "config" / "digest.toml").write_text("")
    assert find_config() == Path("config/digest.toml")
    monkeypatch.setenv("DIGEST_CONFIG", "elsewhere.toml")
    assert find_config() == Path("elsewhere.toml")
    assert find_config("given.toml") == Path("given.toml")


@pytest.mark.parametrize(("text", "hours"), [("90m", 1.5), ("36h", 36), ("7d", 168), ("2w", 336)])
def test_parse_window(text: str, hours: float) -> None:
    assert parse_window(text).total_seconds() == hours * 3600


def test_fetch_limits_reach_the_fetcher(tmp_path: Path) -> None:
    from digest.workspace import Workspace

    path = _write(
        tmp_path,
        '[fetch]\nmax_connections = 128\nper_host = 2\ntimeout = 7.5\nuser_agent = "ops-bot/1"\n',
    )
    ws = Workspace.open(load_config(path), tmp_path / "var")
    try:
        fetcher = ws.fetcher()
        assert fetcher.timeout == 7.5
        assert fetcher.client.headers["User-Agent"] == "ops-bot/1"
        assert (fetcher.max_connections, fetcher.per_host) == (128, 2)
    finally:
        ws.close()
    assert load_config(_write(tmp_path, "")).fetch.max_connections == 64


def test_fetch_limits_are_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, "[fetch]\nper_host = 0\nmax_conections = 10\n")
    problems = _problems(path)
    assert any("fetch.per_host" in p for p in problems)
    assert any("fetch.max_conections: unknown key" in p for p in problems)


def test_an_opml_source_needs_one_list_and_it_must_exist(tmp_path: Path) -> None:
    both = _write(
        tmp_path, '[sources.r]\nkind = "opml"\npath = "r.opml"\nurl = "https://e.org/r"\n'
    )
    assert any("an opml source needs path or url" in p for p in _problems(both))
    missing = _write(tmp_path, '[sources.r]\nkind = "opml"\npath = "r.opml"\n')
    assert any("sources.r.path: file" in p and "does not exist" in p for p in _problems(missing))


def _with_digest_lines(example_dir: Path, *lines: str, tail: str = "") -> Path:
    """The example with these lines in its digest's table and `tail` after it."""
    path = example_dir / "example.toml"
    text = (
        (EXAMPLE / "example.toml")
        .read_text()
        .replace("summary_words = 60", "summary_words = 60\n" + "\n".join(lines))
    )
    path.write_text(text + tail)
    return path


def test_a_model_summarizer_needs_a_server_and_a_model(example_dir: Path) -> None:
    path = _with_digest_lines(example_dir, 'summarizer = "llm"')
    assert _problems(path) == [
        f'{path}: digests.example.summarizer: "llm" needs summarizer.base_url and summarizer.model'
    ]
    path = _with_digest_lines(
        example_dir,
        tail='\n[summarizer]\nbase_url = "http://127.0.0.1:8080/v1/"\nmodel = "qwen2.5-1.5b"\n'
        'api_key_env = "LLM_KEY"\nconcurrency = 2\ntimeout = 45\nwords = 40\n',
    )
    settings = load_config(path).summarizer
    assert (settings.base_url, settings.model, settings.api_key_env) == (
        "http://127.0.0.1:8080/v1",
        "qwen2.5-1.5b",
        "LLM_KEY",
    )
    assert (settings.concurrency, settings.timeout, settings.words, settings.retries) == (
        2,
        45.0,
        40,
        2,
    )
    path = _with_digest_lines(
        example_dir,
        'summarizer = "gpt"',
        tail='\n[summarizer]\nbase_url = "ftp://x"\napi_key_env = "sk-123"\nconcurrency = 0\n',
    )
    problems = "\n".join(_problems(path))
    assert "digests.example.summarizer: Input should be 'lead' or 'llm'" in problems
    assert "summarizer.base_url: must be an http(s) URL" in problems
    assert "summarizer.api_key_env: 'sk-123' is not an environment variable name" in problems
    assert "summarizer.concurrency: Input should be greater than or equal to 1" in problems


def test_locale_is_normalized_and_language_still_read(example_dir: Path) -> None:
    assert load_config(example_dir / "example.toml").digests["example"].locale == "en"
    for written, locale, lang in [
        ('locale = "de"', "de", "de"),
        ('locale = "de-ch"', "de_CH", "de-CH"),
        ('locale = "pt_BR"', "pt_BR", "pt-BR"),
        ('language = "fr"', "fr", "fr"),  # the old name alone sets the locale
        ('language = "es"\nlocale = "es"', "es", "es"),
    ]:
        digest = load_config(_with_digest_lines(example_dir, written)).digests["example"]
        assert (digest.locale, digest.html_lang) == (locale, lang), written


def test_bad_or_conflicting_locales(example_dir: Path) -> None:
    path = _with_digest_lines(example_dir, 'locale = "xx"')
    assert _problems(path) == [
        f"{path}: digests.example.locale: unknown locale 'xx' (try en, de, fr, es, de_CH, en_US...)"
    ]
    path = _with_digest_lines(example_dir, 'locale = "de"\nlanguage = "en"')
    assert _problems(path) == [
        f"{path}: digests.example: language 'en' and locale 'de' disagree: language is the old "
        "name of locale, so set locale only"
    ]


def test_sign_up_settings_are_checked(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[web]\nsignup_confirm_every = "0h"\n'
        'trusted_proxies = ["10.0.0.0/8", "proxy.example.org"]\n',
    )
    problems = "\n".join(_problems(path))
    assert "web.signup_confirm_every: must be longer than nothing" in problems
    assert "web.trusted_proxies: 'proxy.example.org' is not an address or CIDR block" in problems


def test_trusting_any_x_forwarded_for_is_refused_with_what_replaced_it(tmp_path: Path) -> None:
    """It believed the left-most hop from anyone; the proxies are named now."""
    [problem] = _problems(_write(tmp_path, "[web]\ntrust_forwarded_for = true\n"))
    assert problem.endswith(
        "web: trust_forwarded_for is replaced by trusted_proxies: list your proxies' "
        'addresses, like trusted_proxies = ["127.0.0.1"]'
    )


def test_sign_up_defaults_and_the_old_forwarded_for_key(tmp_path: Path) -> None:
    """`trust_forwarded_for = false` (the old default) still reads; double opt-in is the
    default, and single opt-in is said."""
    config = load_config(
        _write(
            tmp_path,
            '[web]\ntrust_forwarded_for = false\ntrusted_proxies = ["::1", "10.0.0.0/8"]\n'
            '[providers.o]\nkind = "outbox"\n'
            '[lists.a]\ntitle = "A"\nconfirm_provider = "o"\nconfirm_from = "a@example.org"\n'
            '[lists.b]\ntitle = "B"\ndouble_opt_in = false\n',
        )
    )
    assert config.web.trusted_proxies == ["::1", "10.0.0.0/8"]
    assert (config.web.signup_confirm_every, config.web.signup_confirm_per_day) == ("1h", 3)
    assert config.lists["a"].double_opt_in and not config.lists["b"].double_opt_in


def test_from_and_reply_to_are_one_mailbox(example_dir: Path) -> None:
    """An unquoted colon makes a group: parseaddr used to keep only part of the name."""
    source = (EXAMPLE / "example.toml").read_text()
    path = example_dir / "example.toml"
    for old, new in (
        ('from = "The Example Brief <', 'from = "News: Weekly <'),
        ('reply_to = "editors@news.example.org"', 'reply_to = "a@example.org, b@example.org"'),
    ):
        path.write_text(source.replace(old, new))
        [problem] = _problems(path)
        assert "is not one address" in problem and "digests.example." in problem
    path.write_text(source.replace('from = "The Example Brief <', 'from = "\\"News: Weekly\\" <'))
    assert load_config(path).digests["example"].from_ == '"News: Weekly" <brief@news.example.org>'
