"""Worker threads with their own intra-op thread count: how engines use a given number of CPU threads
without changing the calling thread's setting.

PyTorch keeps the intra-op thread count of OpenMP and MKL per thread (``torch.set_num_threads`` in a thread
sets that thread's count, plus the default that threads started later take up). A :class:`Workers` pool's
threads set their own count when they start; when the pool closes, the default is put back to the calling
thread's count, so nothing outside the pool sees a change.

The calling thread only waits. If it is interrupted (Ctrl-C, ``kill``) or a task fails, :attr:`Workers.stop` is
set; work checks it between blocks of steps (:meth:`Workers.check`) and ends early, so an interrupted run stops
within a block instead of finishing every part first.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterable, TypeVar

import torch

T = TypeVar("T")


class Stopped(Exception):
    """Raised inside a worker when the pool was told to stop."""


class Workers:
    """Run callables on ``workers`` threads whose torch ops use ``intra_op_threads`` threads each.

    Use it as a context manager to run several batches of tasks on the same threads; :meth:`run` outside one
    opens and closes the pool around that batch."""

    def __init__(self, workers: int, intra_op_threads: int, name: str = "tms-worker"):
        self.workers = max(1, workers)
        self.intra_op_threads = max(1, intra_op_threads)
        self.name = name
        self.stop = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._caller_threads = 1
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _start_worker(self) -> None:
        torch.set_num_threads(self.intra_op_threads)
        with self._lock:
            self._threads.append(threading.current_thread())

    def __enter__(self) -> "Workers":
        self._caller_threads = torch.get_num_threads()  # also initialises the caller's own count first
        self._threads = []
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name, initializer=self._start_worker)
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.stop.set()
        assert self._executor is not None
        self._executor.shutdown(wait=True, cancel_futures=True)
        # An interruption that lands while the executor starts a thread (between its start and its bookkeeping)
        # leaves that thread out of the executor's own join: join every thread that started here.
        with self._lock:
            started = list(self._threads)
        for thread in started:
            thread.join()
        self._executor = None
        torch.set_num_threads(self._caller_threads)  # the default for threads started later, as it was

    def check(self) -> None:
        """Raise :class:`Stopped` (inside a worker) once the pool was told to stop."""
        if self.stop.is_set():
            raise Stopped

    def submit(self, task: Callable[[], T]) -> Future:
        """Start one task on the open pool (its result or exception through the returned future)."""
        assert self._executor is not None, "submit needs an open pool (use Workers as a context manager)"
        return self._executor.submit(task)

    def run(self, tasks: Iterable[Callable[[], T]], poll: Callable[[], None] | None = None) -> list[T]:
        """Run every task; their results in order. ``poll()`` is called in the calling thread about every
        0.25 s while they run (progress). The first exception of a task, or an interruption of the caller,
        stops the rest and is raised here."""
        if self._executor is None:
            with self:
                return self.run(tasks, poll)
        try:
            futures: list[Future] = [self._executor.submit(task) for task in tasks]
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
                for f in done:
                    if f.exception() is not None:
                        raise f.exception()
                if poll is not None:
                    poll()
            return [f.result() for f in futures]
        except BaseException:
            self.stop.set()
            raise


def call(fn: Callable[[Workers], T], intra_op_threads: int) -> T:
    """``fn(workers)`` run in one worker thread whose torch ops use ``intra_op_threads`` threads."""
    workers = Workers(1, intra_op_threads)
    return workers.run([lambda: fn(workers)])[0]
