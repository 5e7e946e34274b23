"""Handing an answer's images to whoever keeps them (the gallery, wired by the site).

The bytes are in hand when the answer is made: they are written to storage as they are (or an
image issued by URL is named where it already lies) and announced through
:data:`novisurf_site.keeping.images_answered`. The receiver only enqueues; the rows and the
thumbnails are made in the background. Nothing here may delay or fail the answer: every fault
is logged, and the bytes travel inline instead when storage refuses them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from novisurf.pricing import usd_text
from novisurf.protocol import GenerationRequest
from novisurf_site import keeping

from .models import ApiKey

logger = logging.getLogger(__name__)
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/svg+xml": ".svg",
}


@dataclass(frozen=True)
class AnswerImage:
    data: bytes
    content_type: str
    revised_prompt: str = ""
    # The storage name of the same bytes when they were issued by URL: not written twice.
    issued_name: str = ""


def answer_keeps(*, api_key: ApiKey) -> bool:
    """Whether this key's images go to its owner's library: not the gallery's own key (the
    gallery stores its generations itself), not a key whose owner said no, and only where
    someone keeps them."""
    return (
        not api_key.is_service and api_key.keep_images and keeping.images_answered.has_listeners()
    )


def _made_for_the_gallery(request: GenerationRequest) -> bool:
    """The gallery names the person it generates for in the ``user`` field (``novisurf:ID``)
    and stores the images itself: a gallery key made without ``--service`` must not keep them
    a second time. A client that sends such a ``user`` only opts its own images out."""
    from .services import SERVICE_USER  # services import this module

    user = request.options.get("user")
    return isinstance(user, str) and SERVICE_USER.fullmatch(user) is not None


def answer_hand_off(
    *,
    api_key: ApiKey,
    request: GenerationRequest,
    images: list[AnswerImage],
    provider: str,
    usage,
    cost,
) -> None:
    """Announce an answer's images for keeping; never raises."""
    if not images or not answer_keeps(api_key=api_key) or _made_for_the_gallery(request):
        return
    try:
        answered = keeping.AnsweredImages(
            answer_id=uuid.uuid4().hex,
            owner_id=api_key.owner_id,
            key_id=api_key.pk,
            key_name=api_key.name or api_key.prefix,
            kind="edit" if request.is_edit else "generate",
            prompt=request.prompt,
            model=request.model,
            n=request.n,
            size=request.size,
            response_format=request.response_format,
            options={**request.options, **({"stream": True} if request.stream else {})},
            provider=provider,
            cost=usd_text(cost),
            usage=usage if isinstance(usage, dict) else None,
            images=[_handed(image) for image in images],
            input_hashes=[hashlib.sha256(f.data).hexdigest() for f in request.images],
        )
        for _, error in keeping.images_answered.send_robust(sender=ApiKey, answered=answered):
            if isinstance(error, Exception):
                logger.error("Keeping an answer's images failed: %r", error)
    except Exception:
        logger.exception("Could not hand an answer's images over for keeping")


def _handed(image: AnswerImage) -> keeping.AnsweredImage:
    if image.issued_name:
        return keeping.AnsweredImage(
            content_type=image.content_type,
            storage_name=image.issued_name,
            owned=False,
            revised_prompt=image.revised_prompt,
        )
    name = (
        f"kept-incoming/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}"
        f"{EXTENSIONS.get(image.content_type, '.bin')}"
    )
    try:
        name = default_storage.save(name, ContentFile(image.data))
    except Exception:
        logger.warning("Storage refused an answer's image; it travels with its task", exc_info=True)
        return keeping.AnsweredImage(
            content_type=image.content_type,
            b64=base64.b64encode(image.data).decode("ascii"),
            revised_prompt=image.revised_prompt,
        )
    return keeping.AnsweredImage(
        content_type=image.content_type, storage_name=name, revised_prompt=image.revised_prompt
    )
