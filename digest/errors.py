"""Every error Digest raises on purpose, in one tree.

    DigestError                      root: the CLI turns any of these into one line, no traceback
    ├── ConfigError                  bad configuration (exit 2); carries file, key path and reason
    ├── UsageError                   a command used the wrong way (exit 2; HTTP 400)
    ├── StoreError                   the database could not do what was asked (HTTP 503)
    │   └── StoreUnavailableError    it could not be reached at all (refused, dropped): retry later
    ├── SourceError                  one source could not be gathered (the run goes on)
    │   ├── FetchError               the HTTP fetch failed (status, timeout, size cap...)
    │   │   └── AddressRefused       a hop led to a private address the operator did not allow
    │   └── FeedError                the document is not a feed Digest can read
    ├── ExtractionError              one document yielded no article (the run goes on)
    ├── RenderError                  the issue could not be rendered (template problems)
    ├── DeliveryError                sending failed
    │   ├── RetryableDeliveryError   429, 5xx, timeouts, dropped connections: try again later
    │   └── PermanentDeliveryError   the provider refused for good
    │       └── ProviderSetupError   the provider cannot work as configured: stop the issue at once
    │           └── ProviderAuthError    401/403, a refused login: no retry storm
    └── RequestError                 the web app refuses a request (carries its HTTP status)

Each class says how it surfaces: `exit_code` for the CLI (`digest.cli.errors` is the one place
that prints them) and `http_status` for the web app (`digest.web.errors` is the one place that
turns them into a page or JSON). Misuse of the library (a bug in the caller) raises
RuntimeError subclasses instead.
"""

from __future__ import annotations

__all__ = [
    "AddressRefused",
    "ConfigError",
    "ConfigProblem",
    "DeliveryError",
    "DigestError",
    "ExtractionError",
    "FeedError",
    "FetchError",
    "PermanentDeliveryError",
    "ProviderAuthError",
    "ProviderSetupError",
    "RenderError",
    "RequestError",
    "RetryableDeliveryError",
    "SourceError",
    "StoreError",
    "StoreUnavailableError",
    "UsageError",
]

from dataclasses import dataclass


class DigestError(Exception):
    """Root of every error Digest raises for a reason a user can act on."""

    exit_code = 1
    http_status = 500


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file: where it is and what is wrong."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ConfigError(DigestError):
    """The configuration is unusable; lists every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UsageError(DigestError):
    """A command was called with arguments that cannot work."""

    exit_code = 2
    http_status = 400


class StoreError(DigestError):
    """The store (SQLite or PostgreSQL) refused or failed an operation."""

    http_status = 503


class StoreUnavailableError(StoreError):
    """The database could not be reached (connection refused, dropped or timed out).

    Nothing was done; the same call may succeed once the database is back, so the service
    retries with backoff instead of failing the work for good.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail  # the driver's one line, e.g. "connection refused"
        super().__init__(f"the store is unreachable: {detail}")


class SourceError(DigestError):
    """A source could not be gathered; the message says why, the rest of the run goes on."""


class FetchError(SourceError):
    """A fetch failed; the message says why in words an operator understands."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, when the server answered


class AddressRefused(FetchError):
    """A fetch (or one of its redirects) would reach a loopback, private, link-local...
    address that no source URL, command-line URL or `fetch.allow_private` entry names."""


class FeedError(SourceError):
    """A document is not a feed Digest can read (empty, an HTML page, not RSS/Atom/JSON)."""


class ExtractionError(DigestError):
    """A document held no usable article (binary, empty, no article text...)."""


class RenderError(DigestError):
    """The email could not be rendered, for example a template names an unknown variable."""


class DeliveryError(DigestError):
    """Sending failed."""


class RetryableDeliveryError(DeliveryError):
    """A transient failure of a whole request; `retry_after` in seconds, if the provider said.

    `maybe_sent`: the request reached the provider and its answer was lost (a read timeout, a
    dropped connection, a 5xx), so it may have been accepted; such deliveries are reconciled
    with the provider before they are sent again, where the provider can be asked.
    """

    def __init__(
        self, message: str, retry_after: float | None = None, *, maybe_sent: bool = False
    ) -> None:
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent
        super().__init__(message)


class PermanentDeliveryError(DeliveryError):
    """The provider refused the request for good; retrying would not help."""


class ProviderSetupError(PermanentDeliveryError):
    """The provider cannot be used as configured (no STARTTLS where TLS is required, an
    untrusted certificate...): every message would fail alike, so the issue stops with this one
    line and its deliveries stay pending until the setting is fixed."""


class ProviderAuthError(ProviderSetupError):
    """The provider rejected our credentials (401/403): stop the issue instead of retrying."""


class RequestError(DigestError):
    """The web app refuses a request (bad signature, replay, unknown provider...)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.http_status = status
        self.reason = reason
