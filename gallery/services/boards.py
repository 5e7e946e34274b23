"""Boards: named groups of one person's images. Deleting a board never deletes an image."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Value
from django.utils import timezone

from ..models import Board, BoardImage, Image
from .sql import insert_from_select


class BoardNameInvalid(ValueError):
    """A board name that cannot be used; the message says why, for a person."""


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise BoardNameInvalid("Type a name for the board.")
    if len(name) > 100:
        raise BoardNameInvalid("A board name has at most 100 characters.")
    return name


def board_create(*, owner, name: str) -> Board:
    name = _clean_name(name)
    try:
        with transaction.atomic():
            return Board.objects.create(owner=owner, name=name)
    except IntegrityError:
        raise BoardNameInvalid(f"You already have a board named “{name}”.") from None


def board_get_or_create(*, owner, name: str) -> Board:
    name = _clean_name(name)
    board = Board.objects.filter(owner=owner, name__iexact=name).first()
    return board or board_create(owner=owner, name=name)


def board_rename(*, board: Board, name: str) -> Board:
    name = _clean_name(name)
    try:
        with transaction.atomic():
            Board.objects.filter(pk=board.pk).update(name=name)
    except IntegrityError:
        raise BoardNameInvalid(f"You already have a board named “{name}”.") from None
    board.name = name
    return board


def board_delete(*, board: Board) -> None:
    """The board and its entries go; the images stay where they are."""
    board.delete()


def board_images_add(*, boards: list[Board], images: QuerySet[Image]) -> int:
    """Put ``images`` on each of ``boards``: one INSERT ... SELECT per board, whatever the
    number of images; images already on a board stay as they were. Returns the rows added."""
    added = 0
    now = timezone.now()
    with transaction.atomic():
        for board in boards:
            source = (
                Image.objects.filter(owner_id=board.owner_id, pk__in=images.values("pk"))
                .order_by()
                .annotate(_board=Value(board.pk), _added=Value(now))
                .values_list("pk", "_board", "_added")
            )
            added += insert_from_select(BoardImage, ["image", "board", "added_at"], source)
    return added


def board_images_remove(*, board: Board, images: QuerySet[Image]) -> int:
    deleted, _ = BoardImage.objects.filter(board=board, image__in=images.values("pk")).delete()
    return deleted


def board_cover_set(*, board: Board, image: Image | None) -> Board:
    """Choose the board's cover (None: its first image shows)."""
    if image is not None and image.owner_id != board.owner_id:
        raise BoardNameInvalid("That image is not yours.")
    Board.objects.filter(pk=board.pk).update(cover=image)
    board.cover = image
    return board
