"""/healthz says which part is failing; /metrics counts what this process did and reads the
store's queue, in Prometheus's format."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from digest.config import load_config
from digest.pipeline import run_digest
from digest.web import create_app
from digest.workspace import Workspace


def _client(ws: Workspace, liveness: object = None) -> httpx.AsyncClient:
    app = create_app(ws, liveness=liveness)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def example_ws(example_dir: Path, home: Path) -> Workspace:
    ws = Workspace.open(load_config(example_dir / "example.toml"), home)
    yield ws  # type: ignore[misc]
    ws.close()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_healthz_is_ok_while_the_store_answers_and_every_part_lives(
    example_ws: Workspace,
) -> None:
    parts = {"scheduler": None, "sender": None}
    async with _client(example_ws, lambda: parts) as client:
        answer = await client.get("/healthz")
        assert (answer.status_code, answer.text) == (200, "ok")
        answer = await client.get("/healthz", headers={"Accept": "application/json"})
        assert answer.json() == {
            "status": "ok",
            "parts": {"store": "ok", "scheduler": "ok", "sender": "ok"},
        }
        parts["sender"] = "the sender loop is not running"
        answer = await client.get("/healthz")
        assert answer.status_code == 503
        assert answer.text == "sender: the sender loop is not running"


async def test_healthz_names_the_store_when_it_does_not_answer(example_ws: Workspace) -> None:
    # a PostgreSQL URL nothing listens on: the store cannot answer
    example_ws.store.engine = create_engine(
        "postgresql+psycopg://digest@127.0.0.1:9/none", connect_args={"connect_timeout": 2}
    )
    async with _client(example_ws) as client:
        answer = await client.get("/healthz", headers={"Accept": "application/json"})
        assert answer.status_code == 503
        parts = answer.json()["parts"]
        assert parts["store"].startswith("the store does not answer: OperationalError")
        # /metrics still serves what this process counted
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "# TYPE digest_issues_total counter" in metrics.text


async def test_metrics_count_issues_and_messages_and_read_the_queue(
    example_ws: Workspace,
) -> None:
    async with _client(example_ws) as client:
        before = _samples((await client.get("/metrics")).text)
        report = await run_digest(example_ws, "example", max_wait=5)
        assert report.dispatch is not None and report.dispatch.counts.get("sent") == 3
        answer = await client.get("/metrics")
        open_metrics = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.endswith("# EOF\n")
    assert answer.headers["content-type"].startswith("text/plain; version=")
    after = _samples(answer.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("digest_issues_total", digest="example", outcome="built") == 1
    assert grew("digest_messages_total", provider="outbox", outcome="sent") == 3
    assert grew("digest_send_seconds_count", provider="outbox") >= 1
    assert after[("digest_ledger_queue_depth", (("status", "pending"),))] == 0
    assert after[("digest_sources_failing", ())] == 0


async def test_metrics_count_a_skipped_issue_and_a_failing_source(
    example_ws: Workspace, example_dir: Path
) -> None:
    await run_digest(example_ws, "example", max_wait=5)
    (example_dir / "example" / "harbour-gazette.xml").write_text("<rss><channel>", "utf-8")
    async with _client(example_ws) as client:
        before = _samples((await client.get("/metrics")).text)
        report = await run_digest(example_ws, "example", max_wait=5)
        after = _samples((await client.get("/metrics")).text)
    assert report.status == "skipped"
    key = ("digest_issues_total", (("digest", "example"), ("outcome", "skipped")))
    assert after[key] - before.get(key, 0.0) == 1
    assert after[("digest_sources_failing", ())] == 1
