"""The endpoint's business rules: API keys, rate limits, generations and the images issued by URL."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from novisurf.protocol import (
    IMAGE_FORMATS,
    URL_LIFETIME_SECONDS,
    GenerationRequest,
    InputFile,
    ProtocolError,
)

from . import renderers
from .models import KEY_PREFIX, ApiKey, IssuedImage

# last_used_at is written at most this often per key, so that a busy key does not turn every
# request into a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
EXTENSIONS = {f.content_type: f".{f.extension}" for f in IMAGE_FORMATS.values()}
_signer = TimestampSigner(salt="novisurf.api.issued-image")


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class KeyLimitReached(Exception):
    """The owner has as many active keys as one person may have."""


def apikey_create(*, owner, name: str = "", is_service: bool = False) -> tuple[ApiKey, str]:
    """Make a key for ``owner``; returns the row and the raw key, which is never stored.

    A person may hold NOVISURF_MAX_KEYS_PER_USER active keys (the gallery's own key, made by
    `make run`, does not count).
    """
    cap = settings.NOVISURF_MAX_KEYS_PER_USER
    if (
        not is_service
        and cap
        and ApiKey.objects.active().filter(owner=owner, is_service=False).count() >= cap
    ):
        raise KeyLimitReached(
            f"You have {cap} active keys, the most one person may have. Revoke one you no "
            "longer use, then make a new one."
        )
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=raw_key[:12],
        key_hash=hash_key(raw_key),
        is_service=is_service,
    )
    return api_key, raw_key


def apikey_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def apikey_is_active(*, raw_key: str) -> bool:
    """Whether ``raw_key`` is an active key; nothing recorded (checked before a body is read)."""
    if not raw_key or not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return False
    return ApiKey.objects.active().filter(key_hash=hash_key(raw_key)).exists()


def apikey_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, its use recorded; ``None`` for anything else."""
    if not raw_key or not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    api_key = (
        ApiKey.objects.active().select_related("owner").filter(key_hash=hash_key(raw_key)).first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def rate_limit_hit(*, api_key: ApiKey, limit: int | None = None, window: int = 60) -> int | None:
    """Count one request for ``api_key``; the seconds to wait if it is over its rate, else None.

    A fixed window per key in the cache: ``add`` then ``incr`` are atomic in every Django cache
    backend that is shared between processes (database, Redis, Memcached).
    """
    limit = settings.NOVISURF_RATE_LIMIT_PER_MINUTE if limit is None else limit
    if limit <= 0:
        return None
    now = time.time()
    window_start = int(now // window) * window
    cache_key = f"novisurf:rate:{api_key.pk}:{window_start}"
    cache.add(cache_key, 0, timeout=window + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 5)
        count = 1
    if count > limit:
        return max(1, int(window_start + window - now + 0.999))
    return None


@dataclass(frozen=True)
class GenerationAnswer:
    created: int
    data: list[dict]
    # usage, background, output_format, quality, size...: the renderer's or the upstream's own.
    fields: dict = field(default_factory=dict)
    # The name of the provider that made the images.
    provider: str = ""

    def body(self) -> dict:
        return {"created": self.created, **self.fields, "data": self.data}


def generation_answer(
    *, request: GenerationRequest, api_key: ApiKey, absolute_url
) -> GenerationAnswer:
    """Render or forward ``request`` and shape the OpenAI answer.

    ``absolute_url(path)`` makes an issued image's path absolute for the caller.
    """
    result = renderers.render(request)
    data: list[dict] = []
    for image in result.images:
        item: dict = {}
        if request.response_format == "b64_json":
            item["b64_json"] = base64.b64encode(image.data).decode("ascii")
        else:
            issued = issued_image_create(
                api_key=api_key, data=image.data, content_type=image.content_type
            )
            item["url"] = absolute_url(issued_image_path(issued))
        if image.revised_prompt:
            item["revised_prompt"] = image.revised_prompt
        data.append(item)
    if request.response_format == "url":
        issued_images_prune()
    fields = {k: v for k, v in result.fields.items() if v is not None}
    return GenerationAnswer(
        created=int(time.time()), data=data, fields=fields, provider=result.provider
    )


def edit_images_check(*, request: GenerationRequest) -> None:
    """Open every file of an edit: each must be a sound image under the pixel cap, DALL·E 2's
    square, and the mask (or markup) the size of the first image, with an alpha channel."""
    first_size = None
    for number, upload in enumerate(request.images, start=1):
        size, _ = _open_checked(upload, f"'image' (file {number})")
        first_size = first_size or size
        if request.spec.max_edit_images == 1 and size[0] != size[1]:
            raise ProtocolError(
                f"The model '{request.model}' edits square images only; this one is "
                f"{size[0]}x{size[1]}.",
                param="image",
                code="invalid_image",
            )
    for upload in (request.mask, request.markup):
        if upload is None:
            continue
        size, has_alpha = _open_checked(upload, f"'{upload.field}'")
        if size != first_size:
            raise ProtocolError(
                f"The {upload.field} is {size[0]}x{size[1]} but the image is "
                f"{first_size[0]}x{first_size[1]}; they must be the same size.",
                param=upload.field,
                code="invalid_image_dimensions",
            )
        if not has_alpha:
            raise ProtocolError(
                f"The {upload.field} has no alpha channel: its fully transparent pixels mark "
                f"where to edit.",
                param=upload.field,
                code="invalid_image",
            )


def _open_checked(upload: InputFile, which: str) -> tuple[tuple[int, int], bool]:
    try:
        with PILImage.open(io.BytesIO(upload.data)) as image:
            width, height = image.size
            if width * height > settings.NOVISURF_MAX_IMAGE_PIXELS:
                raise ProtocolError(
                    f"The file {which} is {width}x{height}, more than "
                    f"{settings.NOVISURF_MAX_IMAGE_PIXELS:,} pixels.",
                    param=upload.field,
                    code="image_too_large",
                )
            image.load()
            has_alpha = "A" in image.getbands() or "transparency" in image.info
    except ProtocolError:
        raise
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError) as exc:
        raise ProtocolError(
            f"The file {which} could not be read as an image: {exc}",
            param=upload.field,
            code="invalid_image",
        ) from None
    return (width, height), has_alpha


def issued_image_create(*, api_key: ApiKey | None, data: bytes, content_type: str) -> IssuedImage:
    issued = IssuedImage(api_key=api_key, content_type=content_type)
    issued.file.save(f"image{EXTENSIONS.get(content_type, '.bin')}", ContentFile(data), save=False)
    issued.save()
    return issued


def issued_image_path(issued: IssuedImage) -> str:
    return reverse("api:issued-image", kwargs={"token": _signer.sign(issued.pk.hex)})


def issued_image_get(*, token: str) -> IssuedImage:
    """The image a signed, unexpired token names, while the key it was issued under is still
    active (revoking a key closes every URL issued under it); ``IssuedImage.DoesNotExist``
    otherwise."""
    try:
        image_id = _signer.unsign(token, max_age=URL_LIFETIME_SECONDS)
    except (BadSignature, SignatureExpired):
        raise IssuedImage.DoesNotExist from None
    return IssuedImage.objects.get(
        pk=image_id, api_key__revoked_at__isnull=True, api_key__owner__is_active=True
    )


def issued_images_prune(*, older_than: int = URL_LIFETIME_SECONDS) -> int:
    """Delete images whose URLs have expired, files included (after the rows are gone)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    expired = list(IssuedImage.objects.filter(created_at__lt=cutoff)[:200])
    if not expired:
        return 0
    names = [image.file.name for image in expired]
    storage = IssuedImage._meta.get_field("file").storage
    with transaction.atomic():
        IssuedImage.objects.filter(pk__in=[image.pk for image in expired]).delete()
        transaction.on_commit(lambda: [storage.delete(name) for name in names])
    return len(expired)
