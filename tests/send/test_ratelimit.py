"""The token bucket, on a fake clock: no real sleeping."""

from __future__ import annotations

import asyncio

import pytest

from digest.send.ratelimit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(rate: float, burst: int | None = None) -> tuple[RateLimiter, FakeTime]:
    t = FakeTime()
    return RateLimiter(rate, burst, clock=t.clock, sleep=t.sleep), t


async def test_burst_is_free_then_rate_applies():
    bucket, t = limiter(10, burst=5)
    for _ in range(5):
        assert await bucket.acquire() == 0
    assert await bucket.acquire() == pytest.approx(0.1)
    assert await bucket.acquire(3) == pytest.approx(0.3)
    assert t.sleeps == pytest.approx([0.1, 0.3])


async def test_refills_over_time_up_to_burst():
    bucket, t = limiter(2, burst=4)
    await bucket.acquire(4)
    t.now += 1.0
    assert bucket.available == pytest.approx(2)
    t.now += 100
    assert bucket.available == pytest.approx(4)


async def test_default_burst_is_one_second_of_rate():
    bucket, _ = limiter(50)
    assert bucket.burst == 50
    assert limiter(0.5)[0].burst == 1


async def test_throughput_matches_rate_over_many_calls():
    bucket, t = limiter(100, burst=10)
    start = t.now
    for _ in range(1010):
        await bucket.acquire()
    # 10 free, then 1000 at 100/s.
    assert t.now - start == pytest.approx(10.0)


async def test_concurrent_callers_queue_in_order():
    t = FakeTime()
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:  # all callers arrive at the same instant
        recorded.append(seconds)
        await asyncio.sleep(0)

    bucket = RateLimiter(1, 1, clock=t.clock, sleep=sleep)
    await bucket.acquire()
    waits = await asyncio.gather(*(bucket.acquire() for _ in range(3)))
    assert waits == pytest.approx([1.0, 2.0, 3.0])
    assert recorded == pytest.approx([1.0, 2.0, 3.0])


async def test_larger_than_burst_waits_instead_of_deadlocking():
    bucket, _ = limiter(10, burst=2)
    assert await bucket.acquire(12) == pytest.approx(1.0)


async def test_cancelled_waiter_gives_its_tokens_back():
    never = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await never.wait()

    clock = FakeTime()
    bucket = RateLimiter(1, 1, clock=clock.clock, sleep=sleep)
    await bucket.acquire()
    task = asyncio.create_task(bucket.acquire(5))
    await asyncio.sleep(0)
    assert bucket.available == pytest.approx(-5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bucket.available == pytest.approx(0)


async def test_real_clock_short_wait():
    bucket = RateLimiter(200, burst=1)
    await bucket.acquire()
    waited = await bucket.acquire()
    assert 0 < waited <= 0.006


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (1, 0)])
def test_rejects_nonsense(rate, burst):
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


async def test_rejects_negative_acquire():
    with pytest.raises(ValueError):
        await RateLimiter(1).acquire(-1)
    assert await RateLimiter(1).acquire(0) == 0
