"""Typed configuration, read from one TOML file and validated where it enters.

settings.py    every setting with its type, default and help (the one declaration)
loading.py     find and read the file; every problem at once, with file and key path
reference.py   config/reference.toml, generated from the declarations
"""

from digest.config.loading import find_config, load_config
from digest.config.settings import (
    Config,
    DigestConfig,
    FetchConfig,
    ListConfig,
    LogConfig,
    ProviderConfig,
    SendConfig,
    SourceConfig,
    SourceFilters,
    StoreConfig,
    SummarizerConfig,
    WebConfig,
    WebhooksConfig,
    normalize_locale,
    parse_window,
)

__all__ = [
    "Config",
    "DigestConfig",
    "FetchConfig",
    "ListConfig",
    "LogConfig",
    "ProviderConfig",
    "SendConfig",
    "SourceConfig",
    "SourceFilters",
    "StoreConfig",
    "SummarizerConfig",
    "WebConfig",
    "WebhooksConfig",
    "find_config",
    "load_config",
    "normalize_locale",
    "parse_window",
]
