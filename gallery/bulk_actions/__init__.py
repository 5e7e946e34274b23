"""Bulk actions: one class per action, one module per kind of action, one registry.

To add one: a class in a module here (or a new module imported below), decorated with
``@register``; the toolbar shows its button, the view and the service run it by its name.
A test per action goes in ``tests/gallery/test_bulk_actions.py``.
"""

# isort: off
# The toolbar shows the actions in the order they are registered: this order.
from . import tags, boards, favourites, download, trash

# isort: on
from .base import (
    GALLERY,
    REGISTRY,
    TRASH,
    BulkActionInvalid,
    BulkResult,
    ImageAction,
    action_get,
    register,
    toolbar_groups,
)

__all__ = [
    "GALLERY",
    "REGISTRY",
    "TRASH",
    "BulkActionInvalid",
    "BulkResult",
    "ImageAction",
    "action_get",
    "boards",
    "download",
    "favourites",
    "register",
    "tags",
    "toolbar_groups",
    "trash",
]
