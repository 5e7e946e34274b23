"""Add the selected images to boards (a new one if named), or take them off this board."""

from __future__ import annotations

from ..models import Board
from ..services.boards import board_get_or_create, board_images_add, board_images_remove
from .base import BulkActionInvalid, BulkResult, ImageAction, images_text, register


@register
class BoardAdd(ImageAction):
    name = "board-add"
    label = "Add to board"
    group = "boards"
    fields_template = "gallery/bulk_actions/board_fields.html"

    @classmethod
    def params_from(cls, data, *, owner) -> dict:
        ids = [int(v) for v in data.getlist("boards") if v.isdigit()]
        new_name = data.get("new_board", "").strip()
        if new_name:
            ids.append(board_get_or_create(owner=owner, name=new_name).pk)
        return {"boards": ids}

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        boards = list(Board.objects.filter(owner=owner, pk__in=params.get("boards") or []))
        if not boards:
            raise BulkActionInvalid("Choose a board (or name a new one) first.")
        count = images.count()
        board_images_add(boards=boards, images=images)
        names = ", ".join(f"“{board.name}”" for board in boards)
        return BulkResult(cls.name, count, f"Added {images_text(count)} to {names}.")


@register
class BoardRemove(ImageAction):
    name = "board-remove"
    label = "Remove from board"
    group = "boards"

    @classmethod
    def available(cls, *, board=None) -> bool:
        return board is not None

    @classmethod
    def params_from(cls, data, *, owner) -> dict:
        board = data.get("board", "")
        return {"board": int(board) if board.isdigit() else None}

    @classmethod
    def apply(cls, *, owner, images, params: dict) -> BulkResult:
        board = Board.objects.filter(owner=owner, pk=params.get("board") or 0).first()
        if board is None:
            raise BulkActionInvalid("That board is gone.")
        removed = board_images_remove(board=board, images=images)
        return BulkResult(cls.name, removed, f"Took {images_text(removed)} off “{board.name}”.")
