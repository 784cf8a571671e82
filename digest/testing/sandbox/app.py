"""The sandbox server: every contract's routes behind one plumbing, the control routes,
and running it in a thread (`run_sandbox`) or a process (`python -m digest.testing.sandbox`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.testing.sandbox.answers import json_answer, resend_error
from digest.testing.sandbox.common import Authenticator, Contract, Handler, Refused, drop_connection
from digest.testing.sandbox.mailgun import MailgunContract
from digest.testing.sandbox.postmark import PostmarkContract
from digest.testing.sandbox.resend import ResendContract
from digest.testing.sandbox.sendgrid import SendGridContract
from digest.testing.sandbox.ses import SesContract
from digest.testing.sandbox.state import Fault, SandboxConfig, SandboxState


class Sandbox:
    """Serves every provider's contract through the same plumbing; holds the state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.contracts: dict[str, Contract] = {
            contract.name: contract
            for contract in (
                PostmarkContract(state),
                SendGridContract(state),
                MailgunContract(state),
                ResendContract(state),
                SesContract(state),
            )
        }

    @property
    def config(self) -> SandboxConfig:
        return self.state.config  # read each time: tests may swap or edit it

    async def serve(
        self,
        request: Request,
        provider: str,
        auth: Callable[[Request, bytes], Response | None],
        handler: Handler,
        *,
        search: bool = False,
    ) -> Response:
        body = await request.body()
        self.state.count(f"{'searches' if search else 'requests'}.{provider}")
        refused = auth(request, body)
        if refused is not None:
            return self._counted(refused)
        key = None
        digest = b""
        if provider == "resend" and not search and "idempotency-key" in request.headers:
            key = request.headers["idempotency-key"]
            if not 1 <= len(key) <= self.config.resend_idempotency_key_max:
                return self._counted(
                    resend_error(
                        400, "invalid_idempotency_key", "Idempotency key must be 1-256 chars."
                    )
                )
            digest = hashlib.sha256(request.url.path.encode() + b"\0" + body).digest()
            early = self.state.idempotency_begin(key, digest)
            if early is not None:
                return self._counted(early)
        fault = self.state.next_fault(provider, "search" if search else "send")
        response: Response | None = None
        try:
            if fault is not None and not fault.after:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.kind == "drop":
                    if key is not None:  # free the key before the client can retry
                        self.state.idempotency_end(key, digest, None)
                        key = None
                    return await self._drop(request)
                if fault.kind == "status":
                    return self._counted(self._fault_response(provider, fault))
            try:
                response = await handler(request, body)
            except Refused as refusal:
                response = refusal.response
        finally:
            if key is not None:
                self.state.idempotency_end(key, digest, response)
        if fault is not None and fault.after:
            # Processed and recorded; now the answer is lost, late or replaced.
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.kind == "drop":
                return await self._drop(request)
            if fault.kind == "status":
                response = self._fault_response(provider, fault)
        return self._counted(response)

    def _counted(self, response: Response) -> Response:
        self.state.count(f"status.{response.status_code}")
        return response

    async def _drop(self, request: Request) -> Response:
        self.state.count("dropped")
        await drop_connection(request)
        return Response(status_code=500)  # never reaches the client: the socket is gone

    def _fault_response(self, provider: str, fault: Fault) -> Response:
        status = fault.status
        contract = self.contracts[provider]
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(fault.retry_after))
        limited = status == 429
        if limited and fault.rate_headers:
            headers.update(contract.rate_headers(0, fault.reset_in))
        message = "too many requests" if limited else f"sandbox injected HTTP {status}"
        return contract.fault_answer(status, message, headers)

    # Control routes.

    async def faults_post(self, request: Request) -> Response:
        try:
            spec = orjson.loads(await request.body())
            if not isinstance(spec, dict):
                raise ValueError("expected a JSON object")
            if spec.get("clear"):
                self.state.clear_faults()
            specs = spec.get("faults", [])
            if "kind" in spec or "status" in spec:
                specs = [{k: v for k, v in spec.items() if k != "clear"}]
            made = [Fault.from_json(s) for s in specs]
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            return json_answer({"error": str(exc)}, 400)
        for fault in made:
            self.state.add_fault(fault)
        if spec.get("inactive"):
            self.state.set_inactive(*spec["inactive"])
        if spec.get("invalid"):
            self.state.set_invalid(*spec["invalid"])
        for address, status in (spec.get("ses_bulk_status") or {}).items():
            self.state.set_ses_bulk_status(address, status)
        return await self.faults_get(request)

    async def faults_get(self, request: Request) -> Response:
        return json_answer({"faults": [asdict(f) for f in self.state.faults()]})

    async def faults_delete(self, request: Request) -> Response:
        self.state.clear_faults()
        return Response(status_code=204)

    async def messages_get(self, request: Request) -> Response:
        query = request.query_params
        brief = query.get("brief") not in (None, "", "0", "false")
        found = self.state.messages(query.get("provider"), query.get("to"))
        return json_answer({"messages": [m.as_json(brief) for m in found]})

    async def messages_delete(self, request: Request) -> Response:
        self.state.clear_messages()
        return Response(status_code=204)

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return Response(status_code=204)

    async def stats(self, request: Request) -> Response:
        return json_answer(self.state.stats())

    async def config_get(self, request: Request) -> Response:
        return json_answer(self.config.public())


def create_app(state: SandboxState | None = None) -> Starlette:
    """The sandbox as a Starlette app; `app.state.sandbox` is the `SandboxState`."""
    sandbox = Sandbox(state or SandboxState())

    def provider_route(
        path: str, provider: str, auth: Authenticator, handler: Handler, search: bool = False
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            return await sandbox.serve(request, provider, auth, handler, search=search)

        return Route(path, endpoint, methods=["GET"] if search else ["POST"])

    routes = [
        provider_route(path, contract.name, auth, handler)
        for contract in sandbox.contracts.values()
        for path, auth, handler in contract.routes()
    ]
    routes += [
        provider_route(path, contract.name, auth, handler, search=True)
        for contract in sandbox.contracts.values()
        for path, auth, handler in contract.searches()
    ]
    s = sandbox
    routes += [
        Route("/_sandbox/faults", s.faults_post, methods=["POST"]),
        Route("/_sandbox/faults", s.faults_get, methods=["GET"]),
        Route("/_sandbox/faults", s.faults_delete, methods=["DELETE"]),
        Route("/_sandbox/messages", s.messages_get, methods=["GET"]),
        Route("/_sandbox/messages", s.messages_delete, methods=["DELETE"]),
        Route("/_sandbox/reset", s.reset, methods=["POST"]),
        Route("/_sandbox/stats", s.stats, methods=["GET"]),
        Route("/_sandbox/config", s.config_get, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox.state
    return app


@dataclass
class RunningSandbox:
    """A sandbox served on 127.0.0.1 by uvicorn in a background thread."""

    base_url: str
    port: int
    state: SandboxState


@contextlib.contextmanager
def run_sandbox(
    port: int = 0, state: SandboxState | None = None, *, startup_timeout: float = 10.0
) -> Iterator[RunningSandbox]:
    """Serve a sandbox on 127.0.0.1 (a free port by default) for the duration of the block."""
    state = state or SandboxState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="digest-sandbox", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.005)
    try:
        yield RunningSandbox(f"http://127.0.0.1:{actual_port}", actual_port, state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m digest.testing.sandbox --port P`: serve until interrupted."""
    parser = argparse.ArgumentParser(description="Local email-provider sandbox")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--no-bodies",
        action="store_true",
        help="record who got what but not the html/text bodies (long benchmarks)",
    )
    args = parser.parse_args(argv)
    state = SandboxState(SandboxConfig(keep_bodies=not args.no_bodies))
    cfg = state.config
    print(
        f"sandbox on http://{args.host}:{args.port}  postmark={sorted(cfg.postmark_tokens)} "
        f"sendgrid={sorted(cfg.sendgrid_keys)} mailgun={sorted(cfg.mailgun_keys)}@"
        f"{sorted(cfg.mailgun_domains)} resend={sorted(cfg.resend_keys)} "
        f"ses={sorted(cfg.ses_credentials)}",
        flush=True,
    )
    uvicorn.run(
        create_app(state),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
    )
