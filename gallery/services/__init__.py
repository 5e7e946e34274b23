"""The gallery's workflows, one module per concern; the public names are re-exported here so
that callers write ``services.generation_create(...)``."""

from .events import event_emit, events_emit_many, events_prune
from .files import files_delete_now, files_delete_on_commit, files_sweep
from .generations import (
    LimitReached,
    generation_claim_next,
    generation_create,
    generation_pick,
    generation_retry,
    generation_run,
    generation_work,
    limits_check,
    limits_for,
    queue_sweep,
    queue_wake,
    worker_heartbeat,
    workers_alive,
)
from .images import (
    download_stem,
    image_delete,
    image_download,
    image_favourite_set,
    image_parameters,
    image_store,
    image_tag_add,
    image_tag_remove,
    tags_for,
)
from .maintenance import maintenance_run, stale_task_rows_fail, task_results_prune, trash_purge

__all__ = [
    "LimitReached",
    "download_stem",
    "event_emit",
    "events_emit_many",
    "events_prune",
    "files_delete_now",
    "files_delete_on_commit",
    "files_sweep",
    "generation_claim_next",
    "generation_create",
    "generation_pick",
    "generation_retry",
    "generation_run",
    "generation_work",
    "image_delete",
    "image_download",
    "image_favourite_set",
    "image_parameters",
    "image_store",
    "image_tag_add",
    "image_tag_remove",
    "limits_check",
    "limits_for",
    "maintenance_run",
    "queue_sweep",
    "queue_wake",
    "stale_task_rows_fail",
    "tags_for",
    "task_results_prune",
    "trash_purge",
    "worker_heartbeat",
    "workers_alive",
]
