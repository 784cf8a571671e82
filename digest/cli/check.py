"""`digest check`: validate the configuration, then render a full-size sample of each digest.

A template naming an unknown variable, or a design that would not fit the size budget with
`max_articles` full summaries, shows here instead of in a real run.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import typer

from digest.cli.common import ConfigOption, JsonOption, err, escape, out
from digest.errors import ConfigError, RenderError

if TYPE_CHECKING:
    from digest.config import Config

__all__ = ["check", "register"]


def check(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Validate the configuration: exit 0 with a summary, or 2 with one line per problem."""
    # lazy: `digest --help` starts without pydantic and the pipeline
    from digest.config import load_config
    from digest.pipeline import sample_render
    from digest.send import secret_problems
    from digest.tokens import signing_key_problems

    loaded = load_config(config)
    problems = secret_problems(loaded.providers) + signing_key_problems(loaded.web.secret_env)
    if problems:
        raise ConfigError(problems)  # one line each, naming the variable, never its value
    warnings = environment_warnings(loaded) + consent_warnings(loaded)
    samples: dict[str, list[str]] = {}
    errors: list[str] = []
    for name in loaded.digests:
        try:
            samples[name] = sample_render(loaded, name)
        except RenderError as exc:
            errors.append(f"digests.{name}.template: {exc}")
    if json_output:
        out.print_json(
            json.dumps(
                {
                    "config": str(loaded.path),
                    "digests": sorted(loaded.digests),
                    "samples": samples,
                    "warnings": warnings,
                    "errors": errors,
                }
            )
        )
        if errors:
            raise typer.Exit(2)
        return
    summarize_config(loaded)
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    for error in errors:
        err.print(f"[red]error:[/red] {escape(error)}", soft_wrap=True)
    for name, lines in samples.items():
        for line in lines:
            style = (
                "yellow" if ("OVER BUDGET" in line or line.startswith(("warning", "lint"))) else ""
            )
            text = f"{name} (sample of {loaded.digests[name].max_articles} articles): {line}"
            out.print(f"[{style}]{text}[/{style}]" if style else text, soft_wrap=True)
    if errors:
        raise typer.Exit(2)


# The keys of a provider that name environment variables, and what each one holds.
_SECRET_KEYS = {
    "token_env": "its API token",
    "access_key_env": "its access key id",
    "secret_key_env": "its secret key",
    "username_env": "its user name",
    "password_env": "its password",
}


def environment_warnings(config: Config) -> list[str]:
    """What the configuration names in the environment but the environment lacks."""
    found = []
    for name, provider in config.providers.items():
        for key, what in _SECRET_KEYS.items():
            variable = getattr(provider, key)
            if variable and not os.environ.get(variable):
                found.append(
                    f"providers.{name}.{key}: ${variable} ({what}) is not set; "
                    f"sending through {name} will fail"
                )
    # lazy: `digest --help` starts without babel and gettext
    import gettext

    from digest.render.i18n import translations

    for name, digest in config.digests.items():
        template_dir = config.resolve(digest.template) if digest.template else None
        catalog = translations(digest.locale, template_dir)
        if not digest.locale.startswith("en") and type(catalog) is gettext.NullTranslations:
            found.append(
                f"digests.{name}.locale: no catalog for {digest.locale!r}; the email's own "
                "words stay English (its dates follow the locale)"
            )
    return found


def consent_warnings(config: Config) -> list[str]:
    """Lists that take sign-ups without asking the address's owner (single opt-in): anyone
    can put anyone's address on them, and a list built that way is not one of consent."""
    return [
        f"lists.{name}.double_opt_in: false, and the list takes sign-ups (signup = true): "
        "anyone can put anyone's address on it without a confirmation"
        for name, mailing_list in config.lists.items()
        if mailing_list.signup and not mailing_list.double_opt_in
    ]


def summarize_config(config: Config) -> None:
    from rich.table import Table  # lazy: `digest --help` starts without it

    out.print(f"[green]ok[/green] {config.path}")
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for column in ("digest", "schedule", "time zone", "window", "sources", "list", "provider"):
        table.add_column(column)
    for name, digest in config.digests.items():
        table.add_row(
            name,
            digest.schedule,
            digest.timezone,
            digest.window,
            ", ".join(digest.sources),
            digest.list,
            f"{digest.provider} ({config.providers[digest.provider].kind})",
        )
    out.print(table)
    out.print(
        f"{len(config.sources)} sources, {len(config.lists)} lists, "
        f"{len(config.providers)} providers, "
        f"store: {config.store.url or 'SQLite in the data directory'}"
    )


def register(app: typer.Typer) -> None:
    app.command()(check)
