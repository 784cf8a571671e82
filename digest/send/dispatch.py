"""Work an issue's delivery ledger until every delivery is accounted for.

    loop:  claim a batch (leased)  ->  personalize each (cheap substitution)  ->  transport
           ->  record sent / failed / retry / suppressed per recipient

The provider is called outside any transaction. A whole-batch transient failure puts the batch
back as `retry` with exponential backoff and jitter (honouring Retry-After); 401/403 hands the
batch back untouched and stops the issue at once; per-message errors are recorded per recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from digest.dates import utcnow
from digest.errors import PermanentDeliveryError, ProviderAuthError, RetryableDeliveryError
from digest.metrics import MESSAGES, SEND_SECONDS
from digest.models import (
    DeliveryStatus,
    IssueStatus,
    Outcome,
    OutgoingMessage,
    Recipient,
    SendResult,
)
from digest.send.base import Transport
from digest.store import DeliveryRow, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = 2.0  # seconds; doubled per attempt
MAX_DELAY = 900.0


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: exponential with full jitter, never below Retry-After."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempt - 1))
    jittered = random.uniform(delay / 2, delay)
    return max(jittered, retry_after or 0.0)


@dataclass
class DispatchReport:
    issue_id: int
    status: IssueStatus  # complete, partial, sending (unfinished), failed (stopped)
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None


class RateLimiterLike(Protocol):
    async def acquire(self, n: int = 1) -> object: ...


async def dispatch_issue(
    store: Store,
    issue_id: int,
    list_id: int,
    transport: Transport,
    personalize: Callable[[Recipient], OutgoingMessage],
    recipient_for: Callable[[DeliveryRow], Recipient],
    *,
    owner: str,
    limiter: RateLimiterLike | None = None,
    lease: timedelta = timedelta(minutes=5),
    max_wait: float = 600.0,
    stop: asyncio.Event | None = None,
    concurrency: int = 3,
    batch_size: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> DispatchReport:
    """Send everything due for one issue; wait for retries up to `max_wait` seconds in all.

    Up to `concurrency` batches are in flight at once, so personalizing the next batch and
    recording the last overlap with the provider's answer to the current one.
    """
    store.set_issue_status(issue_id, IssueStatus.SENDING)
    size = min(transport.max_batch, batch_size or transport.max_batch)
    halted: list[str] = []  # the reason, once a worker met an authentication failure
    busy = 0
    waited = 0.0

    def stopping() -> bool:
        return bool(halted) or (stop is not None and stop.is_set())

    async def worker() -> None:
        nonlocal busy, waited
        while not stopping():
            batch = store.claim_batch(issue_id, list_id, owner, size, lease)
            if not batch:
                if busy:  # others still have batches in flight; they will look again
                    return
                due = store.next_due(issue_id)
                if due is None:
                    return
                pause = min(5.0, max(0.05, (due - utcnow()).total_seconds()))
                if waited + pause > max_wait:
                    log.info("issue %s: deliveries left for later (next due %s)", issue_id, due)
                    return
                waited += pause
                await _sleep(pause, stop)
                continue
            busy += 1
            try:
                await _send_one(batch)
            finally:
                busy -= 1

    async def _send_one(batch: list[DeliveryRow]) -> None:
        messages = [personalize(recipient_for(row)) for row in batch]
        if limiter is not None:
            await limiter.acquire(len(messages))
        started = time.perf_counter()
        try:
            results = await transport.send_batch(messages)
        except ProviderAuthError as exc:
            store.release([row.id for row in batch], status=DeliveryStatus.PENDING)
            halted.append(str(exc))
            log.error("issue %s stopped: %s", issue_id, exc)
            return
        except RetryableDeliveryError as exc:
            log.warning("issue %s: batch of %d will be retried: %s", issue_id, len(batch), exc)
            results = [
                SendResult(row.id, Outcome.RETRY, error=str(exc), retry_after=exc.retry_after)
                for row in batch
            ]
        except PermanentDeliveryError as exc:
            log.error("issue %s: batch of %d refused: %s", issue_id, len(batch), exc)
            results = [SendResult(row.id, Outcome.FAILED, error=str(exc)) for row in batch]
        SEND_SECONDS.labels(transport.name).observe(time.perf_counter() - started)
        for outcome, count in Counter(result.outcome for result in results).items():
            MESSAGES.labels(transport.name, str(outcome)).inc(count)
        final, retry_at = _schedule_retries(batch, results)
        store.record_results(final, retry_at=retry_at)
        if on_batch is not None:
            on_batch(len(batch))

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    if halted:
        issue = store.get_issue(issue_id)
        store.set_issue_status(
            issue_id, IssueStatus.SENDING, report={**issue.report, "stopped": halted[0]}
        )
        return DispatchReport(
            issue_id, IssueStatus.FAILED, store.delivery_counts(issue_id), halted[0]
        )
    return finish_issue(store, issue_id)


def _schedule_retries(
    batch: list[DeliveryRow], results: list[SendResult]
) -> tuple[list[SendResult], dict[int, datetime]]:
    """Turn RETRY results into a next-attempt time, or FAILED once attempts run out."""
    attempts = {row.id: row.attempts for row in batch}
    now = utcnow()
    final: list[SendResult] = []
    retry_at: dict[int, datetime] = {}
    for result in results:
        if result.outcome is Outcome.RETRY:
            attempt = attempts.get(result.delivery_id, 1)
            if attempt >= MAX_ATTEMPTS:
                result = SendResult(
                    result.delivery_id,
                    Outcome.FAILED,
                    error=f"gave up after {attempt} attempts: {result.error}",
                )
            else:
                delay = backoff(attempt, result.retry_after)
                retry_at[result.delivery_id] = now + timedelta(seconds=delay)
        final.append(result)
    return final, retry_at


def finish_issue(store: Store, issue_id: int) -> DispatchReport:
    """Close the issue when nothing is left: complete, or partial when some deliveries failed."""
    counts = store.delivery_counts(issue_id)
    open_count = sum(counts.get(s, 0) for s in DeliveryStatus.OPEN)
    if open_count:
        return DispatchReport(issue_id, IssueStatus.SENDING, counts)
    failed = counts.get(DeliveryStatus.FAILED, 0)
    status = IssueStatus.PARTIAL if failed else IssueStatus.COMPLETE
    store.set_issue_status(issue_id, status)
    return DispatchReport(issue_id, status, counts)


async def _sleep(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
