from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store.writer import Writer, WriterStopped, WriteTimeout


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    s.upsert_items([ItemRecord(f"item-{i}", title=f"Item {i}") for i in range(5)])
    yield s
    s.close()


def test_concurrent_writes_all_land_on_one_thread(store: Store) -> None:
    threads: set[int] = set()

    def write(user: str, item: str) -> int:
        threads.add(threading.get_ident())
        inserted, rejected = store.add_events([EventRecord(user, item, "view", 0.5, 1000.0)])
        assert not rejected
        return inserted

    async def main() -> list[int]:
        # A queue smaller than the number of writers makes callers wait for room.
        with Writer(store, maxsize=4) as writer:
            jobs = [writer.execute(write, f"user-{u}", f"item-{u % 5}") for u in range(200)]
            results = await asyncio.gather(*jobs)
            assert threads == {writer.thread_ident}
            return results

    results = asyncio.run(main())
    assert results == [1] * 200
    assert threading.get_ident() not in threads
    assert store.counts()["interactions"] == 200
    assert store.counts()["users"] == 200


def test_results_come_back_to_their_caller_in_order(store: Store) -> None:
    order: list[int] = []

    def record(i: int) -> int:
        order.append(i)
        return i * i

    async def main() -> list[int]:
        with Writer(store) as writer:
            return list(await asyncio.gather(*(writer.execute(record, i) for i in range(50))))

    assert asyncio.run(main()) == [i * i for i in range(50)]
    assert order == list(range(50))  # gather schedules in order and the thread runs FIFO


def test_exception_propagates_and_writer_keeps_going(store: Store) -> None:
    def fail() -> None:
        raise ValueError("bad write")

    def items_new() -> int:
        return store.upsert_items([ItemRecord("fresh", title="Fresh")])

    async def main() -> int:
        with Writer(store) as writer:
            with pytest.raises(ValueError, match="bad write"):
                await writer.execute(fail)
            return await writer.execute(items_new)

    assert asyncio.run(main()) == 1
    fresh = store.get_item("fresh")
    assert fresh is not None and fresh.title == "Fresh"


def test_failed_transaction_rolls_back(store: Store) -> None:
    def half_write() -> None:
        with store.transaction() as tx:
            tx.execute("DELETE FROM items")
            raise RuntimeError("abort")

    async def main() -> None:
        with Writer(store) as writer, pytest.raises(RuntimeError, match="abort"):
            await writer.execute(half_write)

    asyncio.run(main())
    assert store.counts()["items"] == 5


def test_stop_drains_queued_writes_then_refuses_new_ones(store: Store) -> None:
    writer = Writer(store)
    writer.start()
    done: list[int] = []

    def slow(i: int) -> None:
        time.sleep(0.01)
        done.append(i)

    futures = [writer.submit(slow, i) for i in range(10)]
    writer.stop()
    assert done == list(range(10))
    assert all(f.result() is None for f in futures)
    assert not writer.running
    with pytest.raises(WriterStopped):
        writer.submit(slow, 99)

    async def late() -> None:
        await writer.execute(slow, 100)

    with pytest.raises(WriterStopped):
        asyncio.run(late())


def test_start_fails_loudly_when_the_database_cannot_open(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    store = Store(db)
    store.close()
    for leftover in tmp_path.glob("db.sqlite*"):
        leftover.unlink()
    db.mkdir()  # a folder where the file was: SQLite cannot open it
    writer = Writer(store)
    with pytest.raises(WriterStopped, match="could not start"):
        writer.start()
    assert not writer.running
    store.close()


def _blocked(writer: Writer) -> threading.Event:
    """Hold the writer thread in a slow job until the returned event is set."""
    gate, busy = threading.Event(), threading.Event()

    def slow() -> None:
        busy.set()
        gate.wait(20)

    writer.submit(slow)
    assert busy.wait(5)
    return gate


def test_a_write_past_its_deadline_is_dropped_and_never_runs(store: Store) -> None:
    ran: list[str] = []

    async def main() -> None:
        with Writer(store) as writer:
            gate = _blocked(writer)
            try:
                with pytest.raises(WriteTimeout, match="without being made"):
                    await writer.execute(ran.append, "late", timeout=0.2)
            finally:
                gate.set()
            await writer.execute(ran.append, "on time", timeout=5)

    asyncio.run(main())
    assert ran == ["on time"]


def test_a_cancelled_caller_s_write_never_runs(store: Store) -> None:
    ran: list[str] = []

    async def main() -> None:
        with Writer(store) as writer:
            gate = _blocked(writer)
            task = asyncio.ensure_future(writer.execute(ran.append, "abandoned"))
            await asyncio.sleep(0.05)  # queued behind the slow job
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            gate.set()
            await writer.execute(ran.append, "later")

    asyncio.run(main())
    assert ran == ["later"]


def test_a_write_that_started_before_its_deadline_finishes_and_answers(store: Store) -> None:
    def slow_success() -> str:
        time.sleep(0.4)
        return "done"

    async def main() -> str:
        with Writer(store) as writer:
            return await writer.execute(slow_success, timeout=0.1)

    assert asyncio.run(main()) == "done"  # once running, its result is the truth: no false 503
