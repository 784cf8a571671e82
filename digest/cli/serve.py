"""`digest serve`: the scheduler, the sender loop and the web app as one long-lived process."""

from __future__ import annotations

__all__ = ["register", "web_app_factory"]

import asyncio
import logging
import sys
from typing import Annotated, Any

import typer

# digest.cli imports this module once these names exist (see COMMAND_MODULES)
from digest.cli import ConfigOption, HomeOption, friendly, open_workspace
from digest.errors import UsageError


def web_app_factory() -> Any:
    """`digest.web.app.create_app`, or None (with a warning) where the web app is not installed."""
    from importlib import import_module

    try:
        return import_module("digest.web.app").create_app
    except (ImportError, AttributeError) as exc:
        logging.getLogger("digest.service").warning("web app not available (%s)", exc)
        return None


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly
    def serve(
        config: ConfigOption = None,
        home: HomeOption = None,
        host: Annotated[str, typer.Option(help="address the web app listens on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port of the web app (0: any free one)")] = 8080,
        web: Annotated[bool, typer.Option("--web/--no-web", help="serve the web app")] = True,
        catch_up: Annotated[
            bool, typer.Option("--catch-up/--no-catch-up", help="send missed periods at start")
        ] = True,
        poll: Annotated[
            float, typer.Option(help="seconds between looks for unfinished issues", min=0.1)
        ] = 5.0,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="log warnings only")] = False,
    ) -> None:
        """Run the schedules (each digest in its time zone) and the web app until SIGTERM.

        Any number of `digest serve` processes may share one PostgreSQL store: each period is
        built once and every subscriber gets each issue once. SIGHUP or an edit of the
        configuration file reloads the schedules.
        """
        from digest.service import Service, ServiceOptions

        if not 0 <= port <= 65535:
            raise UsageError(f"--port {port} is not a port number")
        logging.basicConfig(
            level=logging.WARNING if quiet else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        ws = open_workspace(config, home)
        options = ServiceOptions(
            host=host, port=port, poll_interval=poll, catch_up=catch_up, web=web
        )
        factory = web_app_factory() if web else None
        try:
            service = Service(ws, config_path=ws.config.path, app_factory=factory, options=options)
            asyncio.run(service.run())
        finally:
            ws.close()
