"""Reading a configuration file: every problem reported at once, each with its file and key.

A problem names the file, the key path (for example `digests.weekly.schedule`) and what is
wrong; references between tables, files and folders are checked after each key on its own.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from digest.config.settings import Config
from digest.errors import ConfigError, ConfigProblem

__all__ = ["find_config", "load_config"]


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config to read: --config, $DIGEST_CONFIG, config/digest.toml, else the example."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("DIGEST_CONFIG"):
        return Path(env)
    for candidate in (Path("config/digest.toml"), Path("config/example.toml")):
        if candidate.exists():
            return candidate
    return Path("config/digest.toml")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a configuration file; raise ConfigError listing every problem."""
    file = find_config(path)
    shown = str(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(shown, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(shown, "", f"cannot read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(shown, "", f"not valid TOML: {exc}")]) from None

    if "path" in raw:
        raise ConfigError([ConfigProblem(shown, "path", "unknown key (check its spelling)")])
    try:
        config = Config.model_validate({**raw, "path": file})
    except ValidationError as exc:
        raise ConfigError([_problem(shown, err) for err in exc.errors()]) from None
    problems = _cross_check(config, shown)
    if problems:
        raise ConfigError(problems)
    return config


def _problem(file: str, error: Any) -> ConfigProblem:
    loc = [str(part) for part in error["loc"]]
    # pydantic puts the failing validator's kind at the end of model-level errors
    if loc and loc[-1] in {"function-after", "function-before"}:
        loc = loc[:-1]
    key = ".".join("from" if part == "from_" else part for part in loc)
    if error["type"] == "extra_forbidden":
        return ConfigProblem(file, key, "unknown key (check its spelling)")
    if error["type"] == "missing":
        return ConfigProblem(file, key, "required key is missing")
    message = str(error["msg"]).removeprefix("Value error, ")
    return ConfigProblem(file, key, message)


def _cross_check(config: Config, file: str) -> list[ConfigProblem]:
    """What a single key cannot know: references between tables, files and folders."""
    problems: list[ConfigProblem] = []
    for name, digest in config.digests.items():
        for index, source_name in enumerate(digest.sources):
            if source_name not in config.sources:
                problems.append(
                    ConfigProblem(
                        file,
                        f"digests.{name}.sources[{index}]",
                        f"no source named {source_name!r}",
                    )
                )
        if digest.list not in config.lists:
            problems.append(ConfigProblem(file, f"digests.{name}.list", f"no list {digest.list!r}"))
        if digest.provider not in config.providers:
            problems.append(
                ConfigProblem(
                    file, f"digests.{name}.provider", f"no provider named {digest.provider!r}"
                )
            )
        if digest.summarizer == "llm":
            missing = [key for key in ("base_url", "model") if not getattr(config.summarizer, key)]
            if missing:
                problems.append(
                    ConfigProblem(
                        file,
                        f"digests.{name}.summarizer",
                        f'"llm" needs {" and ".join(f"summarizer.{key}" for key in missing)}',
                    )
                )
        if digest.template and not config.resolve(digest.template).is_dir():
            problems.append(
                ConfigProblem(
                    file,
                    f"digests.{name}.template",
                    f"folder {config.resolve(digest.template)} does not exist",
                )
            )
    for name, source in config.sources.items():
        if source.kind == "folder" and source.path and not config.resolve(source.path).is_dir():
            problems.append(
                ConfigProblem(
                    file,
                    f"sources.{name}.path",
                    f"folder {config.resolve(source.path)} does not exist",
                )
            )
        if source.kind == "opml" and source.path and not config.resolve(source.path).is_file():
            problems.append(
                ConfigProblem(
                    file,
                    f"sources.{name}.path",
                    f"file {config.resolve(source.path)} does not exist",
                )
            )
        if source.url and not re.match(r"^https?://", source.url):
            local = config.resolve(source.url.removeprefix("file://"))
            if not local.exists():
                problems.append(
                    ConfigProblem(file, f"sources.{name}.url", f"file {local} does not exist")
                )
        for which in ("include", "exclude"):
            for index, pattern in enumerate(getattr(source.filters, which)):
                if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
                    try:
                        re.compile(pattern[1:-1])
                    except re.error as exc:
                        problems.append(
                            ConfigProblem(
                                file,
                                f"sources.{name}.filters.{which}[{index}]",
                                f"bad regular expression: {exc}",
                            )
                        )
    for name, mailing_list in config.lists.items():
        if mailing_list.confirm_provider and mailing_list.confirm_provider not in config.providers:
            problems.append(
                ConfigProblem(
                    file,
                    f"lists.{name}.confirm_provider",
                    f"no provider named {mailing_list.confirm_provider!r}",
                )
            )
        elif mailing_list.double_opt_in and mailing_list.signup:
            senders = [d for d in config.digests.values() if d.list == name]
            if not mailing_list.confirm_provider and not senders:
                problems.append(
                    ConfigProblem(
                        file,
                        f"lists.{name}.confirm_provider",
                        "double opt-in needs a provider to send confirmations (set it, "
                        "send a digest to this list, or close its sign-up: signup = false)",
                    )
                )
            elif not mailing_list.confirm_from and not senders:
                problems.append(
                    ConfigProblem(
                        file, f"lists.{name}.confirm_from", "double opt-in needs a From address"
                    )
                )
        if mailing_list.subscribers and not config.resolve(mailing_list.subscribers).is_file():
            problems.append(
                ConfigProblem(
                    file,
                    f"lists.{name}.subscribers",
                    f"file {config.resolve(mailing_list.subscribers)} does not exist",
                )
            )
    return problems
