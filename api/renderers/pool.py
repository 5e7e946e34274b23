"""Built-in renders in helper processes, so that one web process can keep every core busy.

A render is Python and Pillow work that holds the interpreter lock for most of its time: in one
web process, renders for several clients at once take turns on one core. With
``NOVISURF_RENDER_PROCESSES`` above 0 (``make run`` sets it to the number of cores), renders of
at least ``NOVISURF_RENDER_POOL_MIN_PIXELS`` run in that many helper processes instead; smaller
ones stay in the web process, where they cost less than the trip to a helper and back.
Streams stay in the web process: each of their events is sent as soon as it is made.

Helpers are started with "spawn" (a fresh interpreter that imports only the renderer: no
forked copy of the web server's threads and locks), on the first render that needs one, and
are stopped with the web process.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from novisurf.protocol import GenerationRequest

from . import RenderResult, procedural

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_TRACKER_QUIET = "ignore:resource_tracker:UserWarning"


def render(request: GenerationRequest, *, processes: int, min_pixels: int) -> RenderResult:
    """``procedural.render(request)``, in a helper process where it pays."""
    width, height = request.dimensions if request.size != "auto" else (0, 0)
    if processes <= 0 or request.images or width * height * request.n < min_pixels:
        return procedural.render(request)
    try:
        return _pool(processes).submit(procedural.render, request).result()
    except BrokenProcessPool:
        # A helper died (killed, out of memory): the next render starts a fresh pool, and this
        # one is made here rather than failed.
        logger.warning("A render helper process died; starting new ones")
        _reset()
        return procedural.render(request)


def _pool(processes: int) -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            # uvicorn ends with the signal's own default action, so no clean-up runs at exit:
            # the helpers then leave by themselves (_helper_started) and multiprocessing's resource
            # tracker removes their queues' semaphores, which is its job. It would also warn
            # about each one; the tracker takes its warning filters from these options.
            if _TRACKER_QUIET not in sys.warnoptions:
                sys.warnoptions.append(_TRACKER_QUIET)
            _executor = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_helper_started,
                initargs=(os.getpid(),),
            )
        return _executor


def _helper_started(parent: int) -> None:
    """In each helper: exit as soon as the web process that started it is gone, however it
    went (a SIGKILL runs no clean-up), rather than live on as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _reset() -> None:
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
        # Its queues' semaphores are released when they are collected: now, not never (at
        # exit the resource tracker would report them as leaked).
        del executor
        gc.collect()


atexit.register(_reset)
