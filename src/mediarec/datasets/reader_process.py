"""An importer's rows read in a child process, so parsing overlaps the store's writes.

A big import is bound by one Python thread: reading and checking each row (an importer's parsing
and the records' checks) shares the GIL with the writer threads that hand batches to the store, and
the store's own work waits for both (docs/benchmarks.md, issue 10). Read in a forked child, the
rows arrive already built and checked, in chunks, and only their unpickling stays here.

Order, bad rows and errors are those of the iterator run in place: rows come in the order the
importer yields them, and an exception the importer raises is raised here, at the same row. Fork is
used (not spawn) because an importer's iterator is a live generator that cannot be sent to a fresh
process; where fork is unavailable (Windows, macOS's default) the rows are read in place.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# Rows per message: large enough that one pickling call carries thousands of rows, small enough
# that the pipe's back-pressure keeps at most a few chunks read ahead of the writers.
CHUNK_ROWS = 2000
_ROWS, _ERROR, _END = "rows", "error", "end"


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def rows_in_child(
    rows: Iterable[T], chunk: int = CHUNK_ROWS, pack: Callable[[Sequence[T]], list[Any]] | None = None
) -> Iterator[Any]:
    """``rows``, iterated in a forked child process and yielded here in the same order.

    With ``pack``, each chunk of rows is sent (and yielded here) as ``pack(chunk)``: a cheaper form
    to pickle, such as :func:`mediarec.datasets.event_chunk.pack_rows`' columns; read in place
    (no fork), the rows are packed the same way, so the consumer sees one form either way.

    The child must not touch what the parent holds open (store connections, model handles): it
    only iterates ``rows`` and writes to its pipe, then leaves without running exit handlers
    (multiprocessing's fork children end with ``os._exit``)."""
    if not fork_available():
        if pack is None:
            yield from rows
            return
        buf: list[T] = []
        try:
            for row in rows:
                buf.append(row)
                if len(buf) >= chunk:
                    yield from pack(buf)
                    buf = []
        except Exception:  # the rows read before an importer's error come first, as from the child
            yield from pack(buf)
            raise
        yield from pack(buf)
        return
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_produce, args=(rows, send, chunk, pack), name="mediarec-import-reader", daemon=True
    )
    child.start()
    send.close()  # the child's end: EOF here once the child is gone
    try:
        while True:
            try:
                kind, payload = receive.recv()
            except EOFError:
                raise RuntimeError(
                    f"the import's reader process ended without finishing (exit code {child.exitcode})"
                ) from None
            if kind == _ROWS:
                yield from payload
            elif kind == _ERROR:
                raise payload
            else:
                return
    finally:
        if child.is_alive():
            # The consumer stopped early (an error while writing, a closed generator): nothing
            # the child still reads is wanted. Stopped before its pipe closes, so it never sees a
            # broken pipe of its own.
            child.terminate()
        child.join()
        receive.close()


def _produce(
    rows: Iterable[Any], send: Any, chunk: int, pack: Callable[[list[Any]], list[Any]] | None
) -> None:
    # The parent's objects, inherited at the fork, are never freed here: kept out of this
    # process's collections, which would otherwise walk (and copy, page by page) all of them.
    gc.freeze()
    wrap = pack or (lambda buf: buf)
    buf: list[Any] = []
    try:
        for row in rows:
            buf.append(row)
            if len(buf) >= chunk:
                send.send((_ROWS, wrap(buf)))
                buf = []
        if buf:
            send.send((_ROWS, wrap(buf)))
        send.send((_END, None))
    except BaseException as exc:  # handed to the parent, which raises it at this row
        if buf:
            send.send((_ROWS, wrap(buf)))
        send.send((_ERROR, _portable(exc)))
    finally:
        send.close()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # any pickling failure gets the same stand-in
        return RuntimeError(f"{type(exc).__name__}: {exc}")
