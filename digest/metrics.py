"""What an operator watches, in Prometheus's format (prometheus-client), served at /metrics.

Counted as things happen, in this process:

    digest_issues_total{digest, outcome}            built, skipped, failed, missed
    digest_messages_total{provider, outcome}        sent, failed, retry, suppressed
    digest_send_seconds{provider}                   one provider call (a batch), histogram
    digest_last_successful_firing_timestamp_seconds{digest}

Read from the store when scraped (so every process shows the same, whoever sent):

    digest_ledger_queue_depth{status}               deliveries pending, retry, sending
    digest_sources_failing                          sources whose last try failed
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = [
    "ISSUES",
    "LAST_FIRING",
    "MESSAGES",
    "REGISTRY",
    "SEND_SECONDS",
    "StoreCollector",
]

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

ISSUES = Counter(
    "digest_issues",
    "Issues built, skipped, failed or missed (the store was down), by digest.",
    ["digest", "outcome"],
    registry=REGISTRY,
)
MESSAGES = Counter(
    "digest_messages", "Messages by provider and outcome.", ["provider", "outcome"],
    registry=REGISTRY,
)  # fmt: skip
SEND_SECONDS = Histogram(
    "digest_send_seconds",
    "Seconds one provider call (a batch of messages) took.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
LAST_FIRING = Gauge(
    "digest_last_successful_firing_timestamp_seconds",
    "When each digest's last firing built its issue (or found nothing new), Unix time.",
    ["digest"],
    registry=REGISTRY,
)


class StoreCollector(Collector):
    """The ledger's queue and failing sources, read from the store at each scrape."""

    def __init__(self, read: Callable[[], tuple[dict[str, int], int]]) -> None:
        self.read = read  # () -> ({open status: deliveries}, sources failing)

    def collect(self) -> Iterator[Any]:
        try:
            queue, failing = self.read()
        except Exception as exc:  # the store is down: /healthz says so; serve the rest
            log.warning("metrics: the store's figures are missing: %s", exc)
            return
        depth = GaugeMetricFamily(
            "digest_ledger_queue_depth", "Deliveries still to work, by status.", labels=["status"]
        )
        for status, count in sorted(queue.items()):
            depth.add_metric([status], count)
        yield depth
        yield GaugeMetricFamily(
            "digest_sources_failing", "Sources whose last try failed.", value=failing
        )
