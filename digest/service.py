"""The long-lived process: the scheduler, a sender loop and the web app in one asyncio loop.

    firing (APScheduler, one cron trigger per digest in its zone)
      -> period key from the scheduled fire time -> claim (within the grace window), build,
         freeze (claim_in_grace, build_claimed)
      -> wake the sender loop
    sender loop: settle drafts (approval deadlines), then work every unfinished issue's ledger:
      this process's, another process's, or one whose sender died (its leases expire)

APScheduler is only the timer. What makes each period go out once is the store: the unique
(digest, period) claim, and deliveries leased in batches. Several processes may run this against
one PostgreSQL database; each fires, one claims, all of them send.

When the store is unreachable, a firing tries its claim again with backoff until the period's
grace window ends, then records the period as missed with the reason (`digest status` shows it),
and the sender loop backs off too: one log line per attempt, never a traceback per poll.

Signals: SIGTERM/SIGINT stop gracefully (no new firings; the batch in flight finishes; the rest
stays pending for the next start). SIGHUP, or a change of the configuration file, reloads the
schedules; a configuration that does not load is logged and the running one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from digest.config import Config, load_config
from digest.dates import utcnow
from digest.errors import ConfigError, DigestError, StoreUnavailableError
from digest.logs import context_with
from digest.metrics import LAST_FIRING
from digest.models import IssueStatus
from digest.pipeline import (
    RunReport,
    build_claimed,
    claim_in_grace,
    deliver_issue,
    settle_drafts,
)
from digest.schedule import DigestSchedule
from digest.workspace import Workspace

__all__ = ["AppFactory", "FiringExecutor", "Service", "ServiceOptions"]

log = logging.getLogger("digest.service")

AppFactory = Callable[..., Any]  # (ws, liveness=...) -> an ASGI application


class FiringExecutor(AsyncIOExecutor):
    """Runs coroutine jobs with their *scheduled* fire time as the last argument.

    APScheduler 3 does not hand a job its run time; the period key must come from it, not from
    the clock when the job happens to start, so that every process derives the same key. With
    coalescing, `run_times` holds the latest missed time only. A run later than the job's
    misfire grace time is reported missed (and logged), as APScheduler does.
    """

    def shutdown(self, wait: bool = True) -> None:
        """Leave running firings alone: the service waits for them (and cancels stragglers)."""
        self._pending_futures.clear()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        async def run() -> list[JobExecutionEvent]:
            events = []
            for run_time in run_times:
                late = datetime.now(UTC) - run_time
                grace = job.misfire_grace_time
                if grace is not None and late > timedelta(seconds=grace):
                    log.warning("%s: firing of %s missed by %s; not sent", job.id, run_time, late)
                    events.append(
                        JobExecutionEvent(EVENT_JOB_MISSED, job.id, job._jobstore_alias, run_time)
                    )
                    continue
                try:
                    await job.func(*job.args, run_time, **job.kwargs)
                except Exception as exc:  # logged by the job itself; keep the scheduler alive
                    events.append(
                        JobExecutionEvent(
                            EVENT_JOB_ERROR, job.id, job._jobstore_alias, run_time, exception=exc
                        )
                    )
                else:
                    events.append(
                        JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, job._jobstore_alias, run_time)
                    )
            return events

        def done(task: asyncio.Task[list[JobExecutionEvent]]) -> None:
            self._pending_futures.discard(task)
            if task.cancelled():
                return
            try:
                events = task.result()
            except BaseException as exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, events)

        # the firing's log lines name its digest (job.args[0]), in text and in JSON
        task = self._eventloop.create_task(run(), context=context_with(digest=job.args[0]))
        task.add_done_callback(done)
        self._pending_futures.add(task)


@dataclass
class ServiceOptions:
    """How the service runs; the defaults suit production, tests shorten the intervals."""

    host: str = "127.0.0.1"
    port: int = 8080
    poll_interval: float = 5.0  # seconds between looks for other processes' unfinished issues
    watch_interval: float = 2.0  # seconds between looks at the configuration file's mtime
    stop_timeout: float = 60.0  # seconds a stop waits for builds in progress
    build_timeout: float = 900.0  # a claim still building after this long: its builder died
    catch_up: bool = True
    web: bool = True


@dataclass
class _State:
    schedules: dict[str, DigestSchedule] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    firings: set[asyncio.Task[Any]] = field(default_factory=set)


class Service:
    """Scheduler + sender loop + web app over one workspace, until told to stop."""

    def __init__(
        self,
        ws: Workspace,
        *,
        config_path: Path | None = None,
        app_factory: AppFactory | None = None,
        options: ServiceOptions | None = None,
    ) -> None:
        self.ws = ws
        self.config_path = config_path or ws.config.path
        self.app_factory = app_factory
        self.options = options or ServiceOptions()
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._reload_requested = asyncio.Event()
        self._state = _State()
        self._scheduler: AsyncIOScheduler | None = None
        self._server: Any = None
        self._config_mtime = self._mtime()
        self.bound_port: int | None = None
        self.started = asyncio.Event()
        self.error: str | None = None  # why the service stopped on its own, if it did
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    # -- control ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            log.info("stopping: no new firings; the batch in flight finishes")
        self.stopping.set()
        self._wake.set()
        self._reload_requested.set()  # wakes the config watcher, which then sees the stop
        if self._server is not None:
            self._server.should_exit = True

    def request_reload(self) -> None:
        self._reload_requested.set()

    def wake_sender(self) -> None:
        self._wake.set()

    # -- run -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until `request_stop` (or SIGTERM/SIGINT); returns once everything has wound down.

        Raises DigestError when the service had to stop on its own (the web app's port taken).
        """
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            executors={"default": FiringExecutor()},
            job_defaults={"coalesce": True, "max_instances": 3},
            event_loop=loop,
        )
        self._scheduler = scheduler
        self._schedule(self.ws.config)
        scheduler.start()
        for name, schedule in self._state.schedules.items():
            firing = schedule.next_firing(utcnow())
            log.info(
                "%s: next firing %s (%s UTC), period %s",
                name,
                firing.local.isoformat(timespec="minutes") if firing else "never",
                firing.at.isoformat(timespec="minutes") if firing else "-",
                firing.period if firing else "-",
            )
        if self.options.catch_up:
            self.catch_up()
        tasks = [
            asyncio.create_task(self._sender_loop(), name="sender"),
            asyncio.create_task(self._watch_config(), name="config-watch"),
        ]
        self._tasks = {task.get_name(): task for task in tasks}
        if self.options.web and self.app_factory is not None:
            tasks.append(asyncio.create_task(self._serve_web(), name="web"))
        else:
            self.started.set()
        try:
            await self.stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            await self._wind_down(tasks)
            self._remove_signals(loop)
        log.info("stopped")
        if self.error:
            raise DigestError(self.error)

    async def _wind_down(self, tasks: list[asyncio.Task[Any]]) -> None:
        firings = list(self._state.firings)
        if firings:
            log.info("waiting for %d build(s) in progress", len(firings))
            _, pending = await asyncio.wait(firings, timeout=self.options.stop_timeout)
            for task in pending:
                task.cancel()  # build_claimed forgets a claim whose build was interrupted
            if pending:
                await asyncio.wait(pending)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("%s ended with %r", task.get_name(), result)

    def liveness(self) -> dict[str, str | None]:
        """What /healthz reports besides the store: each part, None when alive, else why not."""
        scheduler = self._scheduler
        sender = self._tasks.get("sender")
        return {
            "scheduler": None
            if scheduler is not None and scheduler.running
            else "the scheduler is not running",
            "sender": None
            if sender is not None and not sender.done()
            else "the sender loop is not running",
        }

    # -- schedules -------------------------------------------------------------------------

    def _schedule(self, config: Config) -> None:
        """(Re)build one cron job per digest from `config`."""
        assert self._scheduler is not None
        schedules = {
            name: DigestSchedule(name, digest.schedule, digest.timezone)
            for name, digest in config.digests.items()
        }
        self._scheduler.remove_all_jobs()
        for name, schedule in schedules.items():
            self._scheduler.add_job(
                self._fire,
                trigger=schedule.trigger,
                args=[name],
                id=name,
                name=f"digest {name}",
                coalesce=True,
                misfire_grace_time=max(1, int(config.digests[name].grace_delta.total_seconds())),
                replace_existing=True,
            )
            self._state.locks.setdefault(name, asyncio.Lock())
        self._state.schedules = schedules

    def catch_up(self) -> None:
        """Send, once, each digest's latest firing missed inside its grace window; log the rest."""
        now = utcnow()
        for name, schedule in self._state.schedules.items():
            digest = self.ws.config.digests[name]
            since = self.ws.store.last_claimed_at(name)
            plan = schedule.catch_up(now, digest.grace_delta, since)
            if plan.missed_count:
                first, last = plan.missed[0], plan.missed[-1]
                log.warning(
                    "%s: %s%d period(s) missed while no service ran, not sent "
                    "(older than the grace window of %s, or folded into the catch-up): %s .. %s",
                    name,
                    "at least " if plan.truncated else "",
                    plan.missed_count,
                    digest.grace,
                    first.period,
                    last.period,
                )
            if plan.due is not None:
                log.info("%s: catching up period %s", name, plan.due.period)
                self._spawn_firing(name, plan.due.at)

    def _spawn_firing(self, name: str, scheduled: datetime) -> None:
        task = asyncio.create_task(
            self._fire(name, scheduled), name=f"fire {name}", context=context_with(digest=name)
        )
        self._state.firings.add(task)
        task.add_done_callback(self._state.firings.discard)
        # the failure was logged by _fire; retrieve it so asyncio does not report it again
        task.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def _fire(self, name: str, scheduled: datetime | None = None) -> RunReport | None:
        """One firing: the period from the scheduled time, then claim and build.

        `scheduled` is given by FiringExecutor (or the catch-up); its default only satisfies
        APScheduler's check of the job's signature.
        """
        if self.stopping.is_set():
            return None
        if scheduled is None:
            log.error("%s: fired without its scheduled time; ignored", name)
            return None
        current = asyncio.current_task()
        if current is not None and current not in self._state.firings:
            self._state.firings.add(current)
            current.add_done_callback(self._state.firings.discard)
        schedule = self._state.schedules.get(name)
        if schedule is None or name not in self.ws.config.digests:
            log.info("%s: fired but no longer configured", name)
            return None
        firing = schedule.firing(scheduled)
        log.info(
            "%s: fired for period %s (scheduled %s)",
            name,
            firing.period,
            firing.local.isoformat(timespec="seconds"),
        )
        grace_ends = firing.at + self.ws.config.digests[name].grace_delta
        async with self._state.locks.setdefault(name, asyncio.Lock()):
            try:
                claim = await claim_in_grace(
                    self.ws, name, firing.period, grace_ends=grace_ends, stop=self.stopping
                )
                if claim is None:  # stopping
                    return None
                if claim.missed is not None:
                    return RunReport(name, None, IssueStatus.MISSED, claim.missed)
                report = (
                    await build_claimed(self.ws, name, claim.issue_id, send=False)
                    if claim.issue_id is not None
                    else RunReport(name, None, "claimed", f"period {firing.period} was claimed")
                )
            except DigestError as exc:
                log.error("%s: period %s failed: %s", name, firing.period, exc)
                raise
            except Exception:
                log.exception("%s: period %s failed", name, firing.period)
                raise
        if report.issue_id is not None:
            LAST_FIRING.labels(name).set(time.time())
        for source, reason in (report.report.get("failed_sources") or {}).items():
            log.warning("%s: source %s failed: %s", name, source, reason)
        if report.issue_id is None:
            log.info(
                "%s: period %s was already claimed (here before, or by another process)",
                name,
                firing.period,
            )
        else:
            log.info(
                "%s: built issue %s: %s (%s)", name, report.issue_id, report.status, report.message
            )
        self.wake_sender()
        return report

    # -- sending ---------------------------------------------------------------------------

    async def _sender_loop(self) -> None:
        """Deliver every unfinished issue, then sleep until woken or the poll interval passes.

        While the store is unreachable it backs off (the poll interval, doubled per failure up
        to a minute), with one log line per attempt.
        """
        failures = 0
        while not self.stopping.is_set():
            self._wake.clear()
            pause = self.options.poll_interval
            try:
                await self.send_due()
            except StoreUnavailableError as exc:
                failures += 1
                pause = max(pause, min(60.0, pause * 2 ** (failures - 1)))
                log.warning("sender: %s; trying again in %.1f s", exc, pause)
            except Exception:
                log.exception("sender: an unexpected error; trying again shortly")
            else:
                if failures:
                    log.info("sender: the store is reachable again")
                failures = 0
            if self.stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def send_due(self) -> int:
        """One pass: settle drafts, then work each unfinished issue that has something due now.

        Returns how many issues were worked. Issues still held (local hour, retries, another
        sender's live lease) are left for a later pass.
        """
        await self.recover_stale_builds()
        for name in list(self.ws.config.digests):
            for settled in settle_drafts(self.ws, name):
                log.info("%s: %s", name, settled.message)
        worked = 0
        for issue in reversed(
            self.ws.store.issues_of(None, statuses=IssueStatus.UNFINISHED, limit=1000)
        ):
            if self.stopping.is_set():
                break
            if issue.digest not in self.ws.config.digests:
                continue
            due = self.ws.store.next_due(issue.id)
            if due is not None and due > utcnow():
                continue  # held until later; look again on a later pass
            report = await deliver_issue(self.ws, issue, max_wait=0.0, stop=self.stopping)
            worked += 1
            counts = ", ".join(f"{n} {s}" for s, n in sorted(report.counts.items()))
            log.info("%s: issue %s %s: %s", issue.digest, issue.id, report.status, counts)
            if report.error:
                log.error("%s: issue %s stopped: %s", issue.digest, issue.id, report.error)
        return worked

    async def recover_stale_builds(self) -> None:
        """Claims whose builder died mid-build (kill -9 between claim and freeze) are rebuilt by
        whichever process takes them over first; one older than its digest's grace window is
        recorded as skipped with the reason instead, as a missed period would be."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.options.build_timeout)
        for issue in self.ws.store.stale_builds(stale_before):
            digest = self.ws.config.digests.get(issue.digest)
            if digest is None or self.stopping.is_set():
                continue
            if not self.ws.store.take_over_build(issue.id, self.ws.owner, stale_before):
                continue
            if now - issue.created_at > digest.grace_delta + timedelta(
                seconds=self.options.build_timeout
            ):
                reason = "the build was interrupted and the period is past its grace window"
                self.ws.store.set_issue_status(
                    issue.id, IssueStatus.SKIPPED, report={"reason": reason}
                )
                log.warning("%s: period %s skipped: %s", issue.digest, issue.period, reason)
                continue
            log.warning(
                "%s: period %s was left building since %s; building it again",
                issue.digest,
                issue.period,
                issue.created_at.isoformat(timespec="seconds"),
            )
            async with self._state.locks.setdefault(issue.digest, asyncio.Lock()):
                try:
                    report = await build_claimed(self.ws, issue.digest, issue.id, send=False)
                except Exception:
                    log.exception("%s: period %s failed again", issue.digest, issue.period)
                    continue
            log.info("%s: built issue %s: %s", issue.digest, issue.id, report.message)

    # -- configuration ---------------------------------------------------------------------

    def _mtime(self) -> float | None:
        try:
            return Path(self.config_path).stat().st_mtime
        except OSError:
            return None

    async def _watch_config(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reload_requested.wait(), self.options.watch_interval)
            if self.stopping.is_set():
                return
            mtime = self._mtime()
            if self._reload_requested.is_set() or mtime != self._config_mtime:
                self._reload_requested.clear()
                self._config_mtime = mtime
                self.reload()

    def reload(self) -> bool:
        """Re-read the configuration and rebuild the schedules; keep the old one if it is bad."""
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("configuration not reloaded: %s", problem)
            return False
        if config.store.url != self.ws.config.store.url:
            log.warning("store.url changed: takes effect at the next start, not on reload")
        self.ws.config = config
        self._schedule(config)
        log.info(
            "configuration reloaded: %s",
            ", ".join(f"{n} ({d.schedule} {d.timezone})" for n, d in config.digests.items())
            or "no digests",
        )
        return True

    # -- signals and web -------------------------------------------------------------------

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        if sys.platform == "win32":  # pragma: no cover
            return
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    def _remove_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        if sys.platform == "win32":  # pragma: no cover
            return
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    async def _serve_web(self) -> None:
        assert self.app_factory is not None
        app = self.app_factory(self.ws, liveness=self.liveness)
        config = uvicorn.Config(
            app,
            host=self.options.host,
            port=self.options.port,
            log_level="warning",
            log_config=None,  # uvicorn's events go through Digest's handler (text or JSON)
            lifespan="auto",
            # the app reads X-Forwarded-For itself, from the proxies web.trusted_proxies names;
            # uvicorn's rewrite (on by default for 127.0.0.1) would hide which peer sent it
            proxy_headers=False,
        )
        server = _QuietServer(config)
        self._server = server
        if self.stopping.is_set():
            return

        async def guarded() -> None:
            # uvicorn calls sys.exit when it cannot bind; inside this task, not the whole loop
            with contextlib.suppress(SystemExit):
                await server.serve()

        serving = asyncio.create_task(guarded())
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        if server.started and server.servers:
            self.bound_port = server.servers[0].sockets[0].getsockname()[1]
            log.info("web app on http://%s:%s", self.options.host, self.bound_port)
        self.started.set()
        await serving
        if not server.started:
            self.error = f"the web app could not listen on {self.options.host}:{self.options.port}"
            log.error("%s; stopping", self.error)
            self.request_stop()


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the service."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
