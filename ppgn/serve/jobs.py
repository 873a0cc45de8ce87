"""The queue behind ``ppgn serve``: one request at a time per model, the others waiting in order.

A ``Job`` is one request from the page: a function to run and the events it has produced so
far (queued, started, frames of the live chain, done or error), which any number of readers
follow from the start. ``Jobs`` keeps one lane per model, each a FIFO drained by its own
thread, so a long chain on one model never delays another model, and two requests for the
same model never share its networks at once.

    >>> jobs = Jobs()
    >>> job = jobs.submit("m", lambda job: job.emit("done", answer=42))
    >>> job.wait_done(5.0)
    True
    >>> [event["type"] for event in job.events]
    ['queued', 'started', 'done']
    >>> jobs.close()

Nothing here knows about networks: a job's function does the work (``ppgn.serve.tasks``).
"""

from __future__ import annotations

import itertools
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("ppgn.serve")
FINAL = ("done", "error", "stopped")  # the events that end a job
KEEP = 32  # finished jobs kept (their downloads too); older ones are forgotten


class Stopped(Exception):
    """Raised inside a job's function to end it as "stopped" (the stop button)."""


class Job:
    """One request: its id, its model's lane, what it has said so far, and a stop flag.

    Attributes:
        events: dicts with "type" and "t" (seconds since the server started), in order.
        stop: set by the stop button; the job's function looks at it between chain steps.
    """

    def __init__(self, id: str, key: str, work: Callable[[Job], None], clock: float):
        self.id, self.key, self.work = id, key, work
        self.events: list[dict] = []
        self.stop = threading.Event()
        self.folder = None  # where its files are written (set by the app)
        self.files: set[str] = set()  # the names of its files there
        self._clock = clock
        self._changed = threading.Condition()

    def emit(self, type: str, **fields) -> None:
        """Add an event; readers waiting in ``wait_for`` wake up."""
        with self._changed:
            self.events.append({"type": type, "t": round(time.monotonic() - self._clock, 3), **fields})
            self._changed.notify_all()

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1]["type"] in FINAL

    def wait_for(self, count: int, timeout: float) -> list[dict]:
        """The events after the first ``count``, waiting up to ``timeout`` s for one to come."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.events) > count or self.finished, timeout)
            return self.events[count:]

    def wait_done(self, timeout: float) -> bool:
        """Whether the job finished within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.finished, timeout)


class Jobs:
    """Lanes of jobs, one per model; each lane runs its jobs one at a time, in the order submitted."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self.clock = time.monotonic()
        self._jobs: dict[str, Job] = {}
        self._lanes: dict[str, deque[Job]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._running: dict[str, Job] = {}
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._closed = False

    def submit(self, key: str, work: Callable[[Job], None]) -> Job:
        """Queue ``work(job)`` on lane ``key``; the job's first event says how many wait before it."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            job = Job(f"{next(self._ids)}", key, work, self.clock)
            lane = self._lanes.setdefault(key, deque())
            job.emit("queued", position=len(lane) + (key in self._running))
            lane.append(job)
            self._jobs[job.id] = job
            self._forget_old()
            if key not in self._threads:  # one thread per lane, for the server's life
                self._threads[key] = threading.Thread(target=self._drain, args=(key,), name=f"ppgn-serve-{key}", daemon=True)
                self._threads[key].start()
            self._lock.notify_all()
        return job

    def get(self, id: str) -> Job | None:
        return self._jobs.get(id)

    def cancel(self, id: str) -> Job | None:
        """Stop a job: a waiting one leaves its lane at once, a running one at its next chain step."""
        with self._lock:
            job = self._jobs.get(id)
            if job is None or job.finished:
                return job
            job.stop.set()
            lane = self._lanes.get(job.key, deque())
            if job in lane:
                lane.remove(job)
                job.emit("stopped", step=0)
                self._announce(job.key)
        return job

    def close(self) -> None:
        """Stop every job and let the lanes' threads end."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                job.stop.set()
            self._lock.notify_all()

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._lanes[key] or self._closed)
                if self._closed:
                    return
                job = self._running[key] = self._lanes[key].popleft()
                self._announce(key)
            try:
                self._run(job)
            finally:
                with self._lock:
                    del self._running[key]

    def _run(self, job: Job) -> None:
        job.emit("started")
        try:
            job.work(job)
        except Stopped:
            if not job.finished:
                job.emit("stopped", step=None)
        except (ValueError, TypeError, OSError, MemoryError) as err:  # the library's one-line refusals
            job.emit("error", message=" ".join(str(err).split()) or type(err).__name__)
        except Exception as err:  # a bug: its traceback goes to the server's log, the page gets one line
            log.exception("job %s failed", job.id)
            job.emit("error", message=f"internal error ({type(err).__name__}: {' '.join(str(err).split())[:300]}); "
                                      "the server's log has the traceback")
        if not job.finished:
            job.emit("error", message="the job ended without a result")

    def _announce(self, key: str) -> None:
        """Tell the jobs waiting in a lane their new place (called with the lock held)."""
        for place, waiting in enumerate(self._lanes.get(key, ()), start=1):
            waiting.emit("queued", position=place)

    def _forget_old(self) -> None:
        done = [j for j in self._jobs.values() if j.finished]
        for job in done[: max(0, len(done) - self.keep)]:
            del self._jobs[job.id]
            if job.folder is not None:
                shutil.rmtree(job.folder, ignore_errors=True)
