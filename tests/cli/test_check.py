"""`digest check`: the summary, one line per bad key (exit 2), a full-size sample issue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cfg(example_dir: Path) -> str:
    return str(example_dir / "example.toml")


def test_check_prints_a_summary(cfg: str) -> None:
    code, out, _ = invoke("check", "--config", cfg)
    assert code == 0
    assert "ok" in out and "example" in out and "0 8 * * MON" in out


def test_check_names_a_misspelled_key_and_exits_2(cfg: str) -> None:
    path = Path(cfg)
    path.write_text(path.read_text().replace("summary_words", "sumary_words"))
    code, _, err = invoke("check", "--config", cfg)
    assert code == 2
    assert f"{cfg}: digests.example.sumary_words: unknown key" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('schedule = "0 8 * * MON"', 'schedule = "every monday"', "digests.example.schedule"),
        ('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"', "digests.example.timezone"),
        ('list = "readers"', 'list = "ghosts"', "digests.example.list: no list 'ghosts'"),
        ('path = "example/articles"', 'path = "nowhere"', "sources.newsroom.path: folder"),
        ('provider = "outbox"', 'provider = "pigeon"', "digests.example.provider"),
    ],
)
def test_each_bad_configuration_exits_2_with_its_key(
    cfg: str, old: str, new: str, expected: str
) -> None:
    path = Path(cfg)
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    for command in (["check"], ["run", "example"], ["preview", "example"]):
        code, _, err = invoke(*command, "--config", cfg)
        assert code == 2, command
        assert expected in err


def test_check_renders_a_sample_issue_and_names_template_errors(cfg: str) -> None:
    path = Path(cfg)
    templates = path.parent / "my-templates"
    templates.mkdir()
    (templates / "issue.html").write_text(
        '{% extends "base.html" %}{% block content %}{{ no_such_variable }}{% endblock %}'
    )
    path.write_text(
        path.read_text().replace(
            "summary_words = 60", 'summary_words = 60\ntemplate = "my-templates"'
        )
    )
    code, _, err = invoke("check", "--config", cfg)
    assert code == 2
    assert "digests.example.template:" in err and "no_such_variable" in err


@pytest.mark.slow
def test_check_warns_when_a_full_issue_would_not_fit_the_budget(cfg: str) -> None:
    path = Path(cfg)
    text = path.read_text().replace("max_articles = 12", "max_articles = 120")
    path.write_text(text.replace("summary_words = 60", "summary_words = 120\nsize_budget = 20000"))
    code, out, _ = invoke("check", "--config", cfg)
    assert code == 0
    assert "example (sample of 120 articles): HTML" in out
    assert "warning:" in out  # what was done to fit: images, shorter summaries, more stories


def test_check_names_list_keys_that_cannot_work(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        '[providers.outbox]\nkind = "outbox"\n'
        '[lists.a]\ntitle = "A"\ndouble_opt_in = true\n'
        '[lists.b]\ntitle = "B"\nconfirm_provider = "nope"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "lists.a.confirm_provider: double opt-in needs a provider" in result.output
    assert "lists.b.confirm_provider: no provider named 'nope'" in result.output


def test_check_warns_about_each_list_with_sign_up_and_single_opt_in(example_dir: Path) -> None:
    config = example_dir / "example.toml"
    config.write_text(
        config.read_text()
        + '\n[lists.walk-in]\ntitle = "W"\ndouble_opt_in = false\n'
        + '\n[lists.imported]\ntitle = "I"\ndouble_opt_in = false\nsignup = false\n'
    )
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if "double_opt_in" in line]
    assert warnings == [
        "warning: lists.walk-in.double_opt_in: false, and the list takes sign-ups (signup = "
        "true): anyone can put anyone's address on it without a confirmation"
    ]
    data = json.loads(runner.invoke(app, ["check", "--config", str(config), "--json"]).stdout)
    assert [w for w in data["warnings"] if "double_opt_in" in w] == [warnings[0][9:]]


def test_check_warns_about_unset_secrets_and_speaks_json(
    example_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = example_dir / "example.toml"
    config.write_text(
        config.read_text()
        + '\n[providers.pm]\nkind = "postmark"\ntoken_env = "DIGEST_TEST_UNSET_TOKEN"\n'
    )
    monkeypatch.delenv("DIGEST_TEST_UNSET_TOKEN", raising=False)
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 0
    assert "providers.pm.token_env: $DIGEST_TEST_UNSET_TOKEN (its API token) is not set" in (
        result.stderr
    )
    data = json.loads(runner.invoke(app, ["check", "--config", str(config), "--json"]).stdout)
    assert data["digests"] == ["example"] and data["errors"] == []
    assert any("DIGEST_TEST_UNSET_TOKEN" in w for w in data["warnings"])
    assert any("within budget" in line for line in data["samples"]["example"])
    monkeypatch.setenv("DIGEST_TEST_UNSET_TOKEN", "set")
    assert "not set" not in runner.invoke(app, ["check", "--config", str(config)]).stderr


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("abc123\r\nX-Injected: yes", "a line break"),
        ("abc123\n", "a line break"),
        ("abc\x1b123", "a control character"),  # (the environment cannot hold a NUL)
        ("abc 123", "a space"),
        ("abcé123", "a character that is not ASCII"),
    ],
)
def test_a_provider_token_unfit_for_a_header_is_refused_without_showing_it(
    cfg: str, value: str, kind: str
) -> None:
    path = Path(cfg)
    path.write_text(
        path.read_text()
        + '\n[providers.pm]\nkind = "postmark"\ntoken_env = "TEST_PM_TOKEN"\n'
        + '\n[providers.aws]\nkind = "ses"\nregion = "eu-west-1"\n'
        + 'access_key_env = "TEST_AWS_KEY"\nsecret_key_env = "TEST_AWS_SECRET"\n'
    )
    env = {"TEST_PM_TOKEN": value, "TEST_AWS_KEY": "AKIAEXAMPLE", "TEST_AWS_SECRET": "s/3+c=r"}
    result = runner.invoke(app, ["check", "--config", cfg], env=env)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: environment: TEST_PM_TOKEN: is not a valid HTTP header value: it holds {kind} "
        "(the value is not shown); providers.pm.token_env names it"
    ]
    assert "abc" not in result.stdout + result.stderr
    fine = runner.invoke(app, ["check", "--config", cfg], env={**env, "TEST_PM_TOKEN": "abc-123"})
    assert fine.exit_code == 0, fine.stderr


def test_a_short_signing_key_in_the_environment_fails_check_without_showing_it(cfg: str) -> None:
    short = runner.invoke(app, ["check", "--config", cfg], env={"DIGEST_SECRET_KEY": "hunter2"})
    assert short.exit_code == 2
    [line] = short.stderr.splitlines()
    assert line.startswith(
        "error: $DIGEST_SECRET_KEY: the link-signing key is 7 bytes, at least 32"
    )
    assert "hunter2" not in short.stdout + short.stderr
    long_enough = {"DIGEST_SECRET_KEY": "k" * 32}
    assert runner.invoke(app, ["check", "--config", cfg], env=long_enough).exit_code == 0


def test_check_warns_when_a_locale_has_no_catalog(example_dir: Path) -> None:
    config = example_dir / "example.toml"
    text = config.read_text()
    config.write_text(text.replace("[digests.example]\n", '[digests.example]\nlocale = "it"\n'))
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 0
    assert "digests.example.locale: no catalog for 'it'; the email's own words stay English" in (
        result.stderr
    )
    config.write_text(text.replace("[digests.example]\n", '[digests.example]\nlocale = "de"\n'))
    assert "no catalog" not in runner.invoke(app, ["check", "--config", str(config)]).stderr
