"""Work an issue's delivery ledger until every delivery is accounted for.

    loop:  claim a batch (leased)  ->  reconcile the deliveries in doubt  ->  personalize each
           (cheap substitution)  ->  transport  ->  record sent / failed / retry / suppressed

The provider is called outside any transaction. A whole-batch transient failure puts the batch
back as `retry` with exponential backoff and jitter (honouring Retry-After); 401/403 hands the
batch back untouched and stops the issue at once; per-message errors are recorded per recipient.

What a crash can send twice is kept as small as each provider allows:

* a streaming transport's results are recorded as each request is answered, and a sequential
  one (SMTP) sends the next message only once the last is recorded (see `digest.send.base`);
* a delivery in doubt (taken over from a dead sender's lease, or whose answer was lost) is first
  looked for at the provider when the transport can ask (`find_sent`): found ones are marked
  sent, only the others go out again. Providers with an idempotency key need no asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from digest.dates import utcnow
from digest.errors import (
    DeliveryError,
    ProviderSetupError,
    RetryableDeliveryError,
    StoreError,
)
from digest.metrics import MESSAGES, SEND_SECONDS
from digest.models import (
    DeliveryStatus,
    IssueStatus,
    Outcome,
    OutgoingMessage,
    Recipient,
    SendResult,
)
from digest.send.base import ReconcilingTransport, SentQuery, StreamingTransport, Transport
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
    reconcile_after: float | None = None,
) -> DispatchReport:
    """Send everything due for one issue; wait for retries up to `max_wait` seconds in all.

    Up to `concurrency` batches are in flight at once, so personalizing the next batch and
    recording the last overlap with the provider's answer to the current one. A delivery in
    doubt is looked for at the provider `reconcile_after` seconds after its attempt at the
    earliest (default: the transport's own, the time its search needs to catch up).
    """
    store.set_issue_status(issue_id, IssueStatus.SENDING)
    size = min(transport.max_batch, batch_size or transport.max_batch)
    halted: list[str] = []  # the reason, once a worker met a setup failure (login, TLS)
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

    wait = 0.0  # seconds after an attempt before the provider is asked about it
    if isinstance(transport, ReconcilingTransport):
        wait = transport.reconcile_after if reconcile_after is None else reconcile_after

    def record(rows: list[DeliveryRow], results: list[SendResult]) -> None:
        """Write the outcomes; a RETRY that may have gone out is in doubt from now on, and waits
        until the provider can be asked about it."""
        final, retry_at = _schedule_retries(rows, results, at_least=wait)
        now = utcnow()
        in_doubt = {
            r.delivery_id: now for r in final if r.outcome is Outcome.RETRY and r.maybe_sent
        }
        store.record_results(final, retry_at=retry_at, in_doubt_since=in_doubt)
        for outcome, count in Counter(result.outcome for result in results).items():
            MESSAGES.labels(transport.name, str(outcome)).inc(count)

    async def _send_one(batch: list[DeliveryRow]) -> None:
        left = {row.id for row in batch}  # still leased to us: renewed while we work
        heartbeat = asyncio.create_task(_keep_leased(left))
        try:
            await _work(batch, left)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _keep_leased(left: set[int]) -> None:
        """Renew the batch's lease while it waits (rate limit, a busy connection) or is sent."""
        while True:
            await asyncio.sleep(max(0.05, lease.total_seconds() / 3))
            try:
                store.renew_lease(sorted(left), owner, lease)
            except StoreError as exc:  # the next renewal may succeed; the lease is still ours
                log.warning("issue %s: lease not renewed: %s", issue_id, exc)

    async def _work(batch: list[DeliveryRow], left: set[int]) -> None:
        todo = await _reconcile(batch)
        messages = [personalize(recipient_for(row)) for row in todo]
        if limiter is not None and messages:
            await limiter.acquire(len(messages))
        recorded: set[int] = set()
        started = time.perf_counter()
        try:
            async with contextlib.aclosing(_results(transport, messages)) as stream:
                async for results in stream:
                    answered = time.perf_counter()  # one request answered: its latency
                    SEND_SECONDS.labels(transport.name).observe(answered - started)
                    started = answered
                    record(todo, results)  # before the next message goes out (sequential ones)
                    done = {r.delivery_id for r in results}
                    recorded |= done
                    left -= done
        except ProviderSetupError as exc:
            untouched = [row.id for row in todo if row.id not in recorded]
            store.release(untouched, status=DeliveryStatus.PENDING, clear_doubt=True)
            halted.append(str(exc))
            log.error("issue %s stopped: %s", issue_id, exc)
            return
        except DeliveryError as exc:
            rest = [row for row in todo if row.id not in recorded]
            record(rest, _whole_request_failed(issue_id, rest, exc))
        if on_batch is not None:
            on_batch(len(batch))

    async def _reconcile(batch: list[DeliveryRow]) -> list[DeliveryRow]:
        """The rows to send now: of those in doubt, the ones the provider already accepted are
        recorded as sent, and the ones it cannot be asked about yet wait until it can."""
        doubt = {row.id: row.in_doubt_since for row in batch if row.in_doubt_since is not None}
        if not doubt or not isinstance(transport, ReconcilingTransport):
            return batch
        now = utcnow()
        for row_id, since in doubt.items():
            ready = since + timedelta(seconds=wait)
            if ready > now:  # the provider's search may not list it yet
                store.release(
                    [row_id],
                    status=DeliveryStatus.RETRY,
                    error=f"in doubt: {transport.name} will be asked after {ready:%H:%M:%S} UTC "
                    "whether it has it",
                    next_attempt_at=ready,
                    in_doubt_since=since,
                )
        doubtful = [
            row
            for row in batch
            if row.id in doubt and doubt[row.id] + timedelta(seconds=wait) <= now
        ]
        batch = [row for row in batch if row.id not in doubt or row in doubtful]
        if not doubtful:
            return batch
        queries = [SentQuery(row.id, row.email, doubt[row.id] - lease) for row in doubtful]
        try:
            found = await transport.find_sent(queries)
        except RetryableDeliveryError as exc:
            # Not knowing, sending could deliver twice: ask again later, send the others now.
            log.warning(
                "issue %s: could not ask %s about %d deliveries in doubt; asking again later: %s",
                issue_id,
                transport.name,
                len(doubtful),
                exc,
            )
            final, retry_at = _schedule_retries(
                doubtful,
                [
                    SendResult(row.id, Outcome.RETRY, error=str(exc), retry_after=exc.retry_after)
                    for row in doubtful
                ],
            )
            keep = {row.id: doubt[row.id] for row in doubtful}
            store.record_results(final, retry_at=retry_at, in_doubt_since=keep)
            return [row for row in batch if row.id not in doubt]
        except DeliveryError as exc:
            # Refused for good (a key that may only send, say): this provider cannot be asked,
            # so they go out again, as with a provider that keeps no searchable record.
            log.error(
                "issue %s: %s refused the search for %d deliveries in doubt; sending them "
                "again, some may arrive twice: %s",
                issue_id,
                transport.name,
                len(doubtful),
                exc,
            )
            return batch
        found = {row.id: found[row.id] for row in doubtful if row.id in found}
        if found:
            log.info(
                "issue %s: %s already had %d of %d deliveries in doubt; marked sent, not resent",
                issue_id,
                transport.name,
                len(found),
                len(doubtful),
            )
            record(
                [row for row in doubtful if row.id in found],
                [
                    SendResult(row_id, Outcome.SENT, message_id)
                    for row_id, message_id in found.items()
                ],
            )
        return [row for row in batch if row.id not in found]

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


async def _results(
    transport: Transport, messages: list[OutgoingMessage]
) -> AsyncGenerator[list[SendResult], None]:
    """The transport's results as they come: request by request when it streams them, else the
    whole batch at once (batch APIs: one request, one record)."""
    if not messages:
        return
    if isinstance(transport, StreamingTransport):
        async with contextlib.aclosing(transport.stream_batch(messages)) as stream:
            async for results in stream:
                yield results
    else:
        yield await transport.send_batch(messages)


def _whole_request_failed(
    issue_id: int, rows: list[DeliveryRow], exc: DeliveryError
) -> list[SendResult]:
    """What a failure of the whole request means for each of its deliveries."""
    if isinstance(exc, RetryableDeliveryError):
        log.warning("issue %s: %d deliveries will be retried: %s", issue_id, len(rows), exc)
        return [
            SendResult(
                row.id,
                Outcome.RETRY,
                error=str(exc),
                retry_after=exc.retry_after,
                maybe_sent=exc.maybe_sent,
            )
            for row in rows
        ]
    log.error("issue %s: %d deliveries refused: %s", issue_id, len(rows), exc)
    return [SendResult(row.id, Outcome.FAILED, error=str(exc)) for row in rows]


def _schedule_retries(
    batch: list[DeliveryRow], results: list[SendResult], *, at_least: float = 0.0
) -> tuple[list[SendResult], dict[int, datetime]]:
    """Turn RETRY results into a next-attempt time, or FAILED once attempts run out.

    A delivery that may have been sent waits `at_least` seconds (the time the provider's search
    needs before it is asked about it).
    """
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
                if result.maybe_sent:
                    delay = max(delay, at_least)
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
