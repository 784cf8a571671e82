"""`digest serve` (scheduler, sender and web app in one long-lived process) and `digest web`
(the web app alone: sign-up, confirmation, one-click unsubscribe, provider webhooks)."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import (
    ConfigOption,
    HomeOption,
    LogFormatOption,
    err,
    open_workspace,
    state,
)
from digest.errors import UsageError

__all__ = ["register", "serve", "web"]

HostOption = Annotated[str, typer.Option(help="address the web app listens on")]


def serve(
    config: ConfigOption = None,
    home: HomeOption = None,
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the web app (0: any free one)")] = 8080,
    web: Annotated[bool, typer.Option("--web/--no-web", help="serve the web app")] = True,
    catch_up: Annotated[
        bool, typer.Option("--catch-up/--no-catch-up", help="send missed periods at start")
    ] = True,
    poll: Annotated[
        float, typer.Option(help="seconds between looks for unfinished issues", min=0.1)
    ] = 5.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="log warnings only")] = False,
    log_format: LogFormatOption = None,
) -> None:
    """Run the schedules (each digest in its time zone) and the web app until SIGTERM.

    Any number of `digest serve` processes may share one PostgreSQL store: each period is
    built once and every subscriber gets each issue once. SIGHUP or an edit of the
    configuration file reloads the schedules.
    """
    # lazy: `digest --help` starts without APScheduler, Starlette, the pipeline and asyncio
    import asyncio

    from digest.service import Service, ServiceOptions
    from digest.web import create_app

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a port number")
    options = ServiceOptions(host=host, port=port, poll_interval=poll, catch_up=catch_up, web=web)
    with open_workspace(config, home) as ws:
        _service_logging(quiet, log_format or state.log_format or ws.config.log.format)
        service = Service(
            ws, config_path=ws.config.path, app_factory=create_app if web else None, options=options
        )
        asyncio.run(service.run())


def web(
    config: ConfigOption = None,
    home: HomeOption = None,
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 8080,
    log_format: LogFormatOption = None,
) -> None:
    """Serve sign-up, confirmation, one-click unsubscribe and provider webhooks."""
    # lazy: `digest --help` starts without uvicorn and Starlette
    import uvicorn

    from digest.web import create_app  # lazy, as above

    with open_workspace(config, home) as ws:
        _service_logging(False, log_format or state.log_format or ws.config.log.format)
        app = create_app(ws)
        err.print(f"serving on http://{host}:{port} (links in messages: {ws.config.web.base_url})")
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="info",
            log_config=None,  # uvicorn's events go through Digest's handler (text or JSON)
            # the app reads X-Forwarded-For itself, from the proxies web.trusted_proxies names;
            # uvicorn's rewrite would hide which peer sent it
            proxy_headers=False,
        )


def _service_logging(quiet: bool, log_format: str) -> None:
    """A long-lived process logs INFO (or warnings with -q) as text or JSON lines."""
    # lazy: `digest --help` starts without logging
    import logging

    from digest.logs import configure_logging

    if log_format not in ("text", "json"):
        raise UsageError(f"--log-format {log_format!r}: use text or json")
    configure_logging(
        logging.WARNING if quiet else logging.INFO, "json" if log_format == "json" else "text"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(web)
