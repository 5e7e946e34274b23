"""What a log line is about: the request id and the task id of the work in progress.

Plain Python (no Django): context variables, so that each request (thread or asyncio task) and
each background task sees its own, and a logging filter that copies them onto every record.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("novisurf_request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("novisurf_task_id", default=None)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``task_id`` (or None) to every record passing through."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.task_id = task_id.get()
        return True
