"""What a bulk action is, and the registry of them.

One class per action (as Wagtail's bulk actions): its name (the toolbar's ``action`` value, kept
on a queued :class:`~gallery.models.BulkAction`), its button, where it is offered (the gallery's
listings or the trash), the fields it reads, whether it asks first, and what it does. The
service (:mod:`gallery.services.bulk`), the view (:mod:`gallery.views.selection`) and the
toolbar template (``includes/selection_toolbar.html``) all read :data:`REGISTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

GALLERY = "gallery"  # the visible images of a listing
TRASH = "trash"  # the images in the trash


class BulkActionInvalid(ValueError):
    """An action that cannot run as asked; the message says why, for a person."""


@dataclass
class BulkResult:
    action: str
    count: int
    message: str
    trashed_at: object = None
    details: dict = field(default_factory=dict)


def images_text(count: int) -> str:
    """``1 image``, ``1,234 images``."""
    return f"{count:,} image{'' if count == 1 else 's'}"


class ImageAction:
    """One bulk action. Subclass it, fill in the class attributes, write :meth:`apply`, and
    decorate the class with :func:`register`."""

    do_not_call_in_templates = True  # the toolbar template reads the class itself

    name: ClassVar[str]  # the form's value; stored on queued actions: never rename one
    label: ClassVar[str]  # the toolbar's button
    scope: ClassVar[str] = GALLERY
    group: ClassVar[str] = "image"  # buttons of one group sit together in the toolbar
    fields_template: ClassVar[str] = ""  # the inputs it reads, shown once per group
    danger: ClassVar[bool] = False
    in_toolbar: ClassVar[bool] = True
    # Answered by the view as a download (a ZIP) rather than run as a service.
    download: ClassVar[bool] = False

    @classmethod
    def available(cls, *, board=None) -> bool:
        """Whether the toolbar offers it on this page (``board``: the board page's board)."""
        return cls.in_toolbar

    @classmethod
    def params_from(cls, data, *, owner) -> dict:
        """What it needs from the toolbar's form (JSON-safe: a queued action keeps it)."""
        return {}

    @classmethod
    def confirmation(cls, *, count: int, every: bool) -> str:
        """The question asked before it runs on ``count`` images (``every``: "Select all"),
        or "" to run at once. Whatever cannot be undone asks."""
        return ""

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        raise NotImplementedError


REGISTRY: dict[str, type[ImageAction]] = {}


def register(action: type[ImageAction]) -> type[ImageAction]:
    if action.name in REGISTRY:
        raise ValueError(f"Two bulk actions are named {action.name!r}.")
    REGISTRY[action.name] = action
    return action


def action_get(name: str) -> type[ImageAction]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise BulkActionInvalid(f"Unknown action: {name!r}.") from None


@dataclass
class ToolbarGroup:
    fields: list[str]
    actions: list[type[ImageAction]]


def toolbar_groups(*, scope: str, board=None) -> list[ToolbarGroup]:
    """The toolbar's buttons for a page, grouped in registration order, each group with the
    fields its actions read (once)."""
    groups: dict[str, ToolbarGroup] = {}
    for action in REGISTRY.values():
        if action.scope != scope or not action.available(board=board):
            continue
        group = groups.setdefault(action.group, ToolbarGroup(fields=[], actions=[]))
        if action.fields_template and action.fields_template not in group.fields:
            group.fields.append(action.fields_template)
        group.actions.append(action)
    return list(groups.values())
