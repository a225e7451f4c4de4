"""Limiter arithmetic with a fake clock, plus one real-thread check that a window is never exceeded."""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest

from leadflow.sources.ratelimit import Limiter, RollingWindow, TokenBucket, calendly_limiter, hubspot_limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def max_overlap(intervals: list[tuple[float, float]], window: float) -> int:
    """Largest number of requests whose [sent, answered] interval meets one window of `window` seconds.

    A server may timestamp a request anywhere between our send and its answer, so this is the worst
    count any server-side rolling window can see.
    """
    worst = 0
    for _, end in intervals:
        # windows (t - window, t] with t at each answer time are enough to find the maximum
        t = end
        n = sum(1 for s, e in intervals if e > t - window and s <= t)
        worst = max(worst, n)
    return worst


def test_rolling_window_waits_until_the_oldest_answer_leaves_the_window() -> None:
    clock = FakeClock()
    lim = Limiter({"w": RollingWindow(3, 10.0)}, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        with lim.slot("w"):
            clock.now += 0.5  # request takes 0.5 s
    # answers arrived at 1000.5, 1001.0, 1001.5: the 4th may go at 1010.5
    with lim.slot("w"):
        assert clock.now == pytest.approx(1010.5)
    assert sum(clock.sleeps) == pytest.approx(9.0)


def test_in_flight_requests_hold_their_slot() -> None:
    gate = RollingWindow(2, 1.0)
    w1, s1 = gate.reserve(0.0)
    w2, _s2 = gate.reserve(0.0)
    assert w1 == w2 == 0.0
    wait, slot = gate.reserve(50.0)  # both still in flight, long after the window: still no room
    assert slot is None and wait > 0
    gate.done(s1, 50.0)
    wait, slot = gate.reserve(50.5)
    assert slot is None and wait == pytest.approx(0.5)
    wait, slot = gate.reserve(51.0)
    assert wait == 0.0 and slot is not None


def test_an_answer_that_expired_behind_one_still_in_flight_frees_its_slot() -> None:
    gate = RollingWindow(2, 1.0)
    _, _slow = gate.reserve(0.0)  # the older request stays in flight
    _, fast = gate.reserve(0.0)
    gate.done(fast, 0.1)
    wait, slot = gate.reserve(1.2)  # fast left the window at 1.1 although it is not the oldest slot
    assert wait == 0.0 and slot is not None
    assert gate.in_use(1.2) == 2
    wait, slot = gate.reserve(1.2)
    assert slot is None and wait > 0


def test_a_large_budget_keeps_only_the_window_s_slots() -> None:
    gate = RollingWindow(10**8, 1.0)
    for i in range(5000):  # 1,000 answered requests per second for 5 s
        _, slot = gate.reserve(i / 1000)
        gate.done(slot, i / 1000)
    assert len(gate._slots) <= 1001  # expired slots leave as new ones come, without a full scan
    assert gate.in_use(4.9995) == 1000


@pytest.mark.parametrize("seed", range(5))
def test_rolling_window_never_exceeded_under_random_durations(seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    lim = Limiter({"w": RollingWindow(7, 2.0)}, clock=clock, sleep=clock.sleep)
    intervals = []
    for _ in range(120):
        clock.now += rng.choice([0.0, 0.0, 0.01, 0.3])
        with lim.slot("w"):
            sent = clock.now
            clock.now += rng.uniform(0.0, 0.8)
        intervals.append((sent, clock.now))
    assert max_overlap(intervals, 2.0) <= 7
    # and it does not over-wait: at most one window of waiting per 7 requests
    assert sum(clock.sleeps) <= (120 / 7 + 1) * 2.0


def test_observe_remaining_absorbs_foreign_usage_and_limit_shrinks_budget() -> None:
    gate = RollingWindow(100, 10.0)
    _, slot = gate.reserve(0.0)
    gate.done(slot, 0.1)
    gate.observe(0.1, remaining=50)  # someone else used 49 more
    assert gate.in_use(0.2) == 50
    gate.observe(0.2, remaining=60)  # server says more is left than we think: never loosen
    assert gate.in_use(0.2) == 50
    assert gate.in_use(10.2) == 0  # foreign usage expires with the window
    gate.observe(11.0, limit=40)
    assert gate.max_calls == 40
    gate.observe(11.0, limit=500)  # never above what settings allow
    assert gate.max_calls == 40


def test_pause_stops_every_caller_of_the_gate() -> None:
    clock = FakeClock()
    lim = Limiter(
        {"a": RollingWindow(100, 10.0), "b": RollingWindow(100, 10.0)}, clock=clock, sleep=clock.sleep
    )
    lim.pause(4.0, "a")
    with lim.slot("b"):
        assert clock.now == 1000.0  # b is not paused
    with lim.slot("a"):
        assert clock.now == pytest.approx(1004.0)
    assert lim.stats.pauses == 1


def test_token_bucket_spaces_requests_evenly() -> None:
    clock = FakeClock()
    lim = Limiter({"t": TokenBucket(5.0, 1.0)}, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(11):
        with lim.slot("t"):
            starts.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g == pytest.approx(0.2) for g in gaps)
    assert starts[-1] - starts[0] == pytest.approx(2.0)


def test_all_or_nothing_reservation_returns_what_it_took() -> None:
    clock = FakeClock()
    burst = RollingWindow(10, 10.0)
    search = RollingWindow(1, 1.0)
    lim = Limiter({"burst": burst, "search": search}, clock=clock, sleep=clock.sleep)
    with lim.slot("burst", "search"):
        clock.now += 0.1
    with lim.slot("burst", "search"):  # must wait for search; the failed attempts must not leak burst slots
        pass
    assert burst.in_use(clock.now) == 2
    assert clock.now == pytest.approx(1001.1)


def test_hubspot_limiter_search_at_most_5_per_second_and_burst_100_per_10s() -> None:
    clock = FakeClock()
    lim = hubspot_limiter(100, 5, clock=clock, sleep=clock.sleep)
    search, plain = [], []
    for i in range(200):
        names = ("burst", "search", "search_pace") if i % 3 == 0 else ("burst",)
        with lim.slot(*names):
            sent = clock.now
            clock.now += 0.005
        (search if i % 3 == 0 else plain).append((sent, clock.now))
    assert max_overlap(search, 1.0) <= 5
    assert max_overlap(search + plain, 10.0) <= 100


def test_calendly_limiter_is_a_rolling_minute() -> None:
    clock = FakeClock()
    lim = calendly_limiter(50, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(120):
        with lim.slot("minute"):
            times.append((clock.now, clock.now))
    assert max_overlap(times, 60.0) <= 50
    assert times[-1][0] - times[0][0] >= 120.0  # 50 + 50 + 20 needs two full minutes of waiting


def test_real_threads_never_exceed_the_window() -> None:
    lim = Limiter({"w": RollingWindow(5, 0.15)})
    intervals: list[tuple[float, float]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            with lim.slot("w"):
                sent = time.monotonic()
                time.sleep(0.002)
                end = time.monotonic()
            with lock:
                intervals.append((sent, end))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(intervals) == 32
    assert max_overlap(intervals, 0.15) <= 5
