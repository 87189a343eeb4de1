"""The work queue behaves as client-go's rate-limited delaying queue (util/workqueue)."""

from impl.controllers import queue as wq


def test_a_key_is_queued_once_and_never_processed_twice_at_once() -> None:
    queue = wq.add(wq.add(wq.WorkQueue(), "a"), "a")
    assert queue.depth == 1
    queue, key = wq.get(queue)
    assert key == "a"
    queue = wq.add(queue, "a")  # added while processing: only marked dirty
    assert queue.depth == 0
    assert wq.get(queue)[1] is None
    queue = wq.done(queue, "a")  # back at the tail once processing ends
    assert wq.get(queue)[1] == "a"


def test_keys_come_out_in_the_order_they_were_added() -> None:
    queue = wq.WorkQueue()
    for key in ("c", "a", "b", "a"):
        queue = wq.add(queue, key)
    taken: list[str | None] = []
    for _ in range(3):
        queue, taken_key = wq.get(queue)
        taken.append(taken_key)
    assert taken == ["c", "a", "b"]


def test_a_key_parked_twice_keeps_the_earlier_time() -> None:
    queue = wq.add_after(wq.WorkQueue(), "a", 5_000, now_ms=0)
    queue = wq.add_after(queue, "a", 1_000, now_ms=0)
    queue = wq.add_after(queue, "a", 9_000, now_ms=0)
    assert wq.next_due_ms(queue) == 1_000
    assert wq.release_due(queue, 999).depth == 0
    assert wq.release_due(queue, 1_000).depth == 1


def test_the_per_key_backoff_starts_at_5ms_and_doubles_until_forgotten() -> None:
    queue = wq.WorkQueue()
    delays = []
    for _ in range(4):
        queue, delay = wq.rate_limit_delay(queue, "a", now_ms=0)
        delays.append(delay)
    assert delays == [5, 10, 20, 40]
    queue = wq.forget(queue, "a")
    assert wq.rate_limit_delay(queue, "a", now_ms=0)[1] == 5


def test_the_per_key_backoff_stops_at_1000_seconds() -> None:
    queue = wq.WorkQueue()
    delay = 0
    for _ in range(30):
        queue, delay = wq.rate_limit_delay(queue, "a", now_ms=0)
    assert delay == 1000 * 1000


def test_the_overall_bucket_allows_a_burst_of_100_then_10_per_second() -> None:
    queue = wq.WorkQueue()
    delays = []
    for index in range(102):
        queue, delay = wq.rate_limit_delay(queue, f"key-{index}", now_ms=0)
        delays.append(delay)
    assert delays[:100] == [5] * 100  # every key's first failure: 5 ms, the bucket has tokens
    assert delays[100:] == [100, 200]  # bucket empty: one token every 100 ms
