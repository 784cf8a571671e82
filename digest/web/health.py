"""What an operator's monitoring reads: is this process well, and what has it done.

GET /healthz   200 "ok" when the store answers and, under `digest serve`, the scheduler and
               the sender loop are alive; else 503 naming each failing part. JSON with
               Accept: application/json.
GET /metrics   Prometheus's text format (digest.metrics), for a scraper on the
               operator's network; no personal data in it, only digest and provider names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from digest.metrics import REGISTRY, StoreCollector
from digest.web.middleware import wants_json
from digest.web.site import Site

__all__ = ["HealthRoutes", "Liveness"]

Liveness = Callable[[], dict[str, str | None]]  # part -> None when alive, else why not

STORE_TIMEOUT = 5.0  # seconds the store has to answer before /healthz calls it down


class HealthRoutes:
    def __init__(self, site: Site, liveness: Liveness | None = None) -> None:
        self.site = site
        self.liveness = liveness
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Counted())
        self.registry.register(StoreCollector(self._store_figures))

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET", "HEAD"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        parts: dict[str, str | None] = {"store": await self._store_problem()}
        if self.liveness is not None:
            parts.update(self.liveness())
        failing = {part: why for part, why in parts.items() if why}
        status = 503 if failing else 200
        if wants_json(request):
            body = {
                "status": "failing" if failing else "ok",
                "parts": {part: why or "ok" for part, why in parts.items()},
            }
            return JSONResponse(body, status)
        if not failing:
            return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})
        lines = "\n".join(f"{part}: {why}" for part, why in failing.items())
        return PlainTextResponse(lines, status, headers={"Cache-Control": "no-store"})

    async def _store_problem(self) -> str | None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self.site.store.ping), STORE_TIMEOUT)
        except TimeoutError:
            return f"the store did not answer within {STORE_TIMEOUT:g} s"
        except Exception as exc:  # any failure to answer is the store being down
            return f"the store does not answer: {type(exc).__name__}: {exc}".splitlines()[0]
        return None

    async def metrics(self, request: Request) -> Response:
        """Text format, or OpenMetrics when the scraper asks for it."""
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        body = await asyncio.to_thread(encode, self.registry)  # reads the store
        return Response(body, headers={"Content-Type": content_type})

    def _store_figures(self) -> tuple[dict[str, int], int]:
        names = list(self.site.config.sources)
        health = self.site.store.source_health(names)
        failing = sum(1 for record in health.values() if record["consecutive_failures"])
        return self.site.store.queue_depth(), failing


class _Counted(Collector):
    """What this process counted (digest.metrics.REGISTRY), beside what the store says."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()
