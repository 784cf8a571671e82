"""An async token bucket: keeps a provider's messages (or requests) per second under its limit.

Tokens refill continuously at `rate` per second up to `burst`. `acquire(n)` takes n tokens at
once, going into debt if needed, and sleeps until the debt is paid: callers are served in the
order they asked (each reservation is made at call time), and a request larger than the burst
still goes through, just later, instead of deadlocking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token bucket with `rate` tokens per second and room for `burst` (default: one second)."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        if burst is None:
            burst = max(1, int(rate))
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._updated = now

    @property
    def available(self) -> float:
        """Tokens available right now (negative while callers are waiting off a debt)."""
        self._refill()
        return self._tokens

    async def acquire(self, n: int = 1) -> float:
        """Take `n` tokens, waiting as long as needed; returns the seconds waited."""
        if n < 0:
            raise ValueError(f"cannot acquire a negative number of tokens ({n})")
        if n == 0:
            return 0.0
        # Reserve synchronously (no await between refill and take), so concurrent callers
        # queue up in call order and the bucket never hands out more than rate allows.
        self._refill()
        self._tokens -= n
        wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            try:
                await self._sleep(wait)
            except asyncio.CancelledError:
                self._tokens += n  # give back what a cancelled caller never used
                raise
        return wait
