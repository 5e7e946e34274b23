"""``manage.py worker``: the database task worker, plus the housekeeping that heals the queue.

Run as many as you like, on as many machines: each claims work with a lease, and each runs the
same idempotent maintenance (lapsed leases, missing wake-ups, the file journal, the trash).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from gallery import services

logger = logging.getLogger("gallery.worker")


class Command(BaseCommand):
    help = "Run a task worker with its maintenance loop (lease sweeper, file journal, trash)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Idle poll, seconds.")
        parser.add_argument("--worker-id", default="")
        parser.add_argument(
            "--maintenance-interval",
            type=float,
            default=None,
            help="Seconds between housekeeping rounds (default NOVISURF_MAINTENANCE_INTERVAL).",
        )
        parser.add_argument("--max-tasks", type=int, default=None)

    def handle(self, *args, interval, worker_id, maintenance_interval, max_tasks, **options):
        worker_id = (worker_id or f"{socket.gethostname()}-{os.getpid()}-{get_random_string(6)}")[
            :64
        ]
        every = maintenance_interval or settings.NOVISURF_MAINTENANCE_INTERVAL
        stop = threading.Event()
        housekeeper = threading.Thread(
            target=_housekeeping, args=(worker_id, every, stop), daemon=True, name="housekeeping"
        )
        housekeeper.start()
        worker = Worker(
            queue_names=["default"],
            interval=interval,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        self.stdout.write(f"Worker {worker_id} started (housekeeping every {every:g} s)")
        try:
            worker.run()
        finally:
            stop.set()


def _housekeeping(worker_id: str, every: float, stop: threading.Event) -> None:
    last_prune = 0.0
    while not stop.is_set():
        try:
            close_old_connections()
            services.worker_heartbeat(worker_id=worker_id, pid=os.getpid())
            report = services.maintenance_run()
            if any(report.values()):
                logger.info("Housekeeping: %s", report)
            if time.monotonic() - last_prune > 3600:
                services.task_results_prune()
                services.stale_task_rows_fail()
                last_prune = time.monotonic()
        except Exception:
            logger.exception("Housekeeping failed; trying again in %s s", every)
        finally:
            connection.close()
        stop.wait(every)
