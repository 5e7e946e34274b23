"""The gallery's workflows, one module per concern; the public names are re-exported here so
that callers write ``services.generation_create(...)``."""

from .archive import archive_slug, images_zip
from .boards import (
    BoardNameInvalid,
    board_cover_set,
    board_create,
    board_delete,
    board_get_or_create,
    board_images_add,
    board_images_remove,
    board_rename,
)
from .bulk import (
    BulkActionInvalid,
    BulkResult,
    bulk_action_run,
    bulk_action_start,
    bulk_apply,
)
from .edits import (
    EditRejected,
    EditSourceMissing,
    edit_create,
    edit_files,
    edit_model_for,
    mask_check,
)
from .events import event_emit, events_emit_many, events_prune
from .files import files_delete_now, files_delete_on_commit, files_sweep
from .image_sets import images_favourite_set, images_tag_add, images_tag_remove
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
from .imports import ImportResult, image_import
from .keeping import answer_enqueue, answer_keep, answer_keep_or_retry
from .limits import LimitReached, limits_check, limits_for, monthly_budget_of
from .maintenance import maintenance_run, stale_task_rows_fail, task_results_prune, trash_purge
from .queue import (
    generation_cancel,
    generation_claim_next,
    generation_create,
    generation_pick,
    generation_retry,
    queue_sweep,
    queue_wake,
    worker_heartbeat,
    workers_alive,
)
from .runner import generation_run, generation_work
from .spending import budget_check, generation_cost_record
from .storage_check import StorageReport, storage_check
from .tags import TagNameInvalid, TagRenamed, tag_delete, tag_rename
from .trash import (
    TrashBatch,
    images_delete_forever,
    images_restore,
    images_trash,
    trash_empty,
    trash_undo,
)

__all__ = [
    "BoardNameInvalid",
    "BulkActionInvalid",
    "BulkResult",
    "EditRejected",
    "EditSourceMissing",
    "ImportResult",
    "LimitReached",
    "StorageReport",
    "TagNameInvalid",
    "TagRenamed",
    "TrashBatch",
    "answer_enqueue",
    "answer_keep",
    "answer_keep_or_retry",
    "archive_slug",
    "board_cover_set",
    "board_create",
    "board_delete",
    "board_get_or_create",
    "board_images_add",
    "board_images_remove",
    "board_rename",
    "budget_check",
    "bulk_action_run",
    "bulk_action_start",
    "bulk_apply",
    "download_stem",
    "edit_create",
    "edit_files",
    "edit_model_for",
    "event_emit",
    "events_emit_many",
    "events_prune",
    "files_delete_now",
    "files_delete_on_commit",
    "files_sweep",
    "generation_cancel",
    "generation_claim_next",
    "generation_cost_record",
    "generation_create",
    "generation_pick",
    "generation_retry",
    "generation_run",
    "generation_work",
    "image_delete",
    "image_download",
    "image_favourite_set",
    "image_import",
    "image_parameters",
    "image_store",
    "image_tag_add",
    "image_tag_remove",
    "images_delete_forever",
    "images_favourite_set",
    "images_restore",
    "images_tag_add",
    "images_tag_remove",
    "images_trash",
    "images_zip",
    "limits_check",
    "limits_for",
    "maintenance_run",
    "mask_check",
    "monthly_budget_of",
    "queue_sweep",
    "queue_wake",
    "stale_task_rows_fail",
    "storage_check",
    "tag_delete",
    "tag_rename",
    "tags_for",
    "task_results_prune",
    "trash_empty",
    "trash_purge",
    "trash_undo",
    "worker_heartbeat",
    "workers_alive",
]
