"""The gallery's pages, one module per area (home, generations, images, boards, trash...): parse, call a service or a selector, render."""

from .boards import (
    board_cover,
    board_delete,
    board_detail,
    board_list,
    board_remove_images,
    board_rename,
    image_boards,
)
from .compare import image_compare
from .edits import image_edit
from .favourites import image_favourite
from .generations import (
    generation_cancel,
    generation_detail,
    generation_retry,
    generation_status,
)
from .home import generate, home
from .images import (
    image_delete,
    image_detail,
    image_download,
    image_file,
    image_tag_add,
    image_tag_remove,
    image_thumbnail,
)
from .imports import image_upload
from .live import events
from .selection import bulk_action_detail, listing_zip, selection_act
from .tags import tag_delete, tag_list, tag_rename
from .trash import image_trash, trash_delete, trash_empty, trash_list, trash_restore, trash_undo
from .usage import usage, usage_csv

__all__ = [
    "board_cover",
    "board_delete",
    "board_detail",
    "board_list",
    "board_remove_images",
    "board_rename",
    "bulk_action_detail",
    "events",
    "generate",
    "generation_cancel",
    "generation_detail",
    "generation_retry",
    "generation_status",
    "home",
    "image_boards",
    "image_compare",
    "image_delete",
    "image_detail",
    "image_download",
    "image_edit",
    "image_favourite",
    "image_file",
    "image_tag_add",
    "image_tag_remove",
    "image_thumbnail",
    "image_trash",
    "image_upload",
    "listing_zip",
    "selection_act",
    "tag_delete",
    "tag_list",
    "tag_rename",
    "trash_delete",
    "trash_empty",
    "trash_list",
    "trash_restore",
    "trash_undo",
    "usage",
    "usage_csv",
]
