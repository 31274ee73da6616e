"""Produce an iterator's items in a worker thread, a few items ahead of the consumer.

The apply pass alternates pure-Python work (reading and validating the next chunk) with waiting on
the database (the chunk's lookups, COPY and commit, which the server runs on another core). Waiting
on the socket releases the GIL, so a worker thread that validates chunk n+1 while the main thread
waits for chunk n's statements turns that idle time into useful work. Only the worker touches the
iterator (and the reader it holds open); items and exceptions reach the consumer through a bounded
queue, so at most `depth` chunks are held in memory beyond the one being written.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Final, Generic, TypeVar

T = TypeVar("T")

# How long the worker waits on a full queue before it looks again whether the consumer stopped.
_POLL_SECONDS: Final = 0.1
_DONE: Final = object()


class _Failed:
    """The worker's exception, raised again in the consumer's thread."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Ahead(Generic[T]):
    def __init__(self, make: Callable[[], Iterable[T]], depth: int) -> None:
        self._make = make
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="import-read-ahead", daemon=True)

    def _put(self, item: object) -> bool:
        """Queue one item; False when the consumer stopped listening."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def _produce(self) -> None:
        try:
            # The iterable is built here, so the reader it opens is used and closed by this thread only.
            items = iter(self._make())
            try:
                for item in items:
                    if not self._put(item):
                        return
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # a generator's `with` blocks (the open reader) exit now
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(_Failed(error))
            return
        self._put(_DONE)

    def items(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def read_ahead(
    make: Callable[[], Iterable[T]], *, depth: int = 1, threaded: bool = True
) -> Generator[Iterator[T], None, None]:
    """Iterate `make()` in a worker thread, up to `depth` items ahead; the worker ends with the block.

    An exception raised while producing is raised by the returned iterator, in order; leaving the
    block early (the consumer failed, or stopped) stops the worker and waits for it. With threaded
    False the items are produced in the calling thread, as they are consumed (same items, same errors).
    """
    if not threaded:
        items = iter(make())
        try:
            yield items
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        return
    ahead = _Ahead(make, depth)
    ahead.start()
    try:
        yield ahead.items()
    finally:
        ahead.stop()
