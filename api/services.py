"""The endpoint's business rules: API keys, rate limits, generations and the images issued by URL."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.signing import BadSignature, SignatureExpired, TimestampSigner
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from novisurf.protocol import (
    CONTENT_TYPES,
    IMAGE_FORMATS,
    URL_LIFETIME_SECONDS,
    GenerationRequest,
    InputFile,
    ProtocolError,
    sniff_format,
)

from . import budgets, keeping, renderers
from .models import KEY_PREFIX, ApiKey, IssuedImage, issued_image_upload_to
from .renderers import StreamEvent

# last_used_at is written at most this often per key, so that a busy key does not turn every
# request into a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
EXTENSIONS = {f.content_type: f".{f.extension}" for f in IMAGE_FORMATS.values()}
_signer = TimestampSigner(salt="novisurf.api.issued-image")
# The OpenAI ``user`` the gallery sends with its own key: the person whose generation it runs.
SERVICE_USER = re.compile(r"novisurf:(\d{1,18})")


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class KeyLimitReached(Exception):
    """The owner has as many active keys as one person may have."""


def apikey_create(
    *,
    owner,
    name: str = "",
    is_service: bool = False,
    keep_images: bool = True,
    monthly_budget: Decimal | None = None,
) -> tuple[ApiKey, str]:
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
        keep_images=keep_images,
        monthly_budget=monthly_budget or None,
    )
    return api_key, raw_key


def apikey_settings_set(
    *, api_key: ApiKey, keep_images: bool, monthly_budget: Decimal | None
) -> ApiKey:
    """Whether the key's images are kept, and its own monthly budget (None or 0: none)."""
    api_key.keep_images = keep_images
    api_key.monthly_budget = monthly_budget or None
    api_key.save(update_fields=["keep_images", "monthly_budget"])
    return api_key


class UnknownModels(ValueError):
    """Model names that no provider serves (the message lists them)."""


def apikey_models_set(*, api_key: ApiKey, models: list[str]) -> ApiKey:
    """Limit ``api_key`` to ``models`` (names clients send, aliases included); [] allows all.

    Only models that can answer now may be named, so that a typo does not lock a key out."""
    wanted = list(dict.fromkeys(m.strip() for m in models if m.strip()))
    unknown = [m for m in wanted if not renderers.serves(m)]
    if unknown:
        raise UnknownModels(
            f"No provider serves {', '.join(unknown)}; the models here are "
            f"{', '.join(m.id for m in renderers.listed())}."
        )
    api_key.allowed_models = wanted
    api_key.save(update_fields=["allowed_models"])
    return api_key


def apikey_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        apikeys_changed()
    return api_key


# Keys found are kept per process for a short while: under ASGI each request runs in a thread
# of its own, with a database connection of its own, so a lookup per request would open a
# connection per request. Every lookup reads a version from the cache (shared by every web
# process once there are several, see README), and a revocation changes it: a revoked key
# stops working at once, in every process. The lifetime bounds what no code path announces.
KEY_CACHE_SECONDS = 30
KEY_CACHE_MAX = 10_000
_KEY_VERSION = "novisurf:apikeys:version"
_keys_found: dict[str, tuple[ApiKey, float, object]] = {}


def apikeys_changed() -> None:
    """Forget the keys found so far, in this process at once and in the others at their next
    request; called once a revocation (or any change to a key or its owner) is committed."""

    def forget() -> None:
        _keys_found.clear()
        cache.set(_KEY_VERSION, secrets.token_hex(8), timeout=None)

    # At once, and again once committed: a lookup between the two may have read the row as it
    # was before the change, and kept it under the first new version.
    forget()
    transaction.on_commit(forget)


def _active_key(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, from this process's memory where it is fresh."""
    if not raw_key or not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    key_hash = hash_key(raw_key)
    # Read before the database, so that a revocation committed meanwhile changes it after.
    version = cache.get(_KEY_VERSION)
    now = time.monotonic()
    found = _keys_found.get(key_hash)
    if found is not None and found[2] == version and found[1] > now:
        return found[0]
    api_key = ApiKey.objects.active().select_related("owner").filter(key_hash=key_hash).first()
    if api_key is None:
        return None  # unknown keys are not kept: anyone could fill the memory with them
    if len(_keys_found) >= KEY_CACHE_MAX:
        _keys_found.clear()
    _keys_found[key_hash] = (api_key, now + KEY_CACHE_SECONDS, version)
    return api_key


def apikey_is_active(*, raw_key: str) -> bool:
    """Whether ``raw_key`` is an active key; nothing recorded (checked before a body is read)."""
    return _active_key(raw_key) is not None


def apikey_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, its use recorded; ``None`` for anything else."""
    api_key = _active_key(raw_key)
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    # A copy: what a request does to its key is not seen by the next request's.
    return copy.copy(api_key)


@dataclass(frozen=True)
class RateLimitState:
    """One key's window after this request: what the ``x-ratelimit-*`` headers say."""

    limit: int
    remaining: int
    reset_seconds: int
    # Seconds to wait when this request is over the rate; None when it may go ahead.
    wait: int | None = None


def rate_limit_take(
    *, api_key: ApiKey, limit: int | None = None, window: int = 60
) -> RateLimitState | None:
    """Count one request for ``api_key``; the window's state, or None when there is no limit.

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
    reset = max(1, int(window_start + window - now + 0.999))
    return RateLimitState(
        limit=limit,
        remaining=max(0, limit - count),
        reset_seconds=reset,
        wait=reset if count > limit else None,
    )


def rate_limit_hit(*, api_key: ApiKey, limit: int | None = None, window: int = 60) -> int | None:
    """Count one request for ``api_key``; the seconds to wait if it is over its rate, else None."""
    state = rate_limit_take(api_key=api_key, limit=limit, window=window)
    return state.wait if state is not None else None


@dataclass(frozen=True)
class GenerationAnswer:
    created: int
    data: list[dict]
    # usage, background, output_format, quality, size...: the renderer's or the upstream's own.
    fields: dict = field(default_factory=dict)
    # Who served it and what it cost (x-novisurf-provider, x-novisurf-cost).
    provider: str = ""
    cost: Decimal = Decimal(0)

    def body(self) -> dict:
        return {"created": self.created, **self.fields, "data": self.data}


def payer_for(*, api_key: ApiKey, request: GenerationRequest) -> int:
    """Whose budget a request spends: the key's owner; for the gallery's own key, the person
    it names in the OpenAI ``user`` field (``novisurf:ID``), whose generation it runs."""
    if api_key.is_service:
        match = SERVICE_USER.fullmatch(str(request.options.get("user") or ""))
        if match:
            return int(match.group(1))
    return api_key.owner_id


def generation_answer(
    *, request: GenerationRequest, api_key: ApiKey, absolute_url
) -> GenerationAnswer:
    """Reserve the request's worst case, render or forward it, settle what it cost, hand its
    images over for keeping and shape the OpenAI answer.

    ``absolute_url(path)`` makes an issued image's path absolute for the caller.
    """
    provider = budgets.provider_for(request.model)
    reservation = budgets.spend_reserve(
        user_id=payer_for(api_key=api_key, request=request),
        api_key=api_key,
        amount=budgets.worst_case(request=request, provider=provider),
    )
    try:
        result = renderers.render(request)
    except BaseException:
        budgets.spend_settle(reservation=reservation, cost=Decimal(0))
        raise
    provider = getattr(result, "provider", None) or provider
    usage = result.fields.get("usage")
    cost = budgets.request_cost(
        request=request, provider=provider, usage=usage, images=len(result.images)
    )
    budgets.spend_settle(reservation=reservation, cost=cost, images=len(result.images))
    data: list[dict] = []
    kept: list[keeping.AnswerImage] = []
    for image in result.images:
        item: dict = {}
        issued_name = ""
        if request.response_format == "b64_json":
            item["b64_json"] = base64.b64encode(image.data).decode("ascii")
        else:
            issued = issued_image_create(
                api_key=api_key, data=image.data, content_type=image.content_type
            )
            issued_name = issued.file.name
            item["url"] = absolute_url(issued_image_path(issued))
        if image.revised_prompt:
            item["revised_prompt"] = image.revised_prompt
        data.append(item)
        kept.append(
            keeping.AnswerImage(
                data=image.data,
                content_type=image.content_type,
                revised_prompt=image.revised_prompt or "",
                issued_name=issued_name,
            )
        )
    if request.response_format == "url":
        issued_images_prune()
    fields = {k: v for k, v in result.fields.items() if v is not None}
    keeping.answer_hand_off(
        api_key=api_key, request=request, images=kept, provider=provider, usage=usage, cost=cost
    )
    return GenerationAnswer(
        created=int(time.time()), data=data, fields=fields, provider=provider, cost=cost
    )


@dataclass
class StreamedAnswer:
    """A streamed answer: its events, and who serves it and what it is expected to cost (sent
    as headers before the first event; the cost recorded is settled from the events)."""

    events: Iterator[StreamEvent]
    provider: str
    cost: Decimal


def generation_stream(*, request: GenerationRequest, api_key: ApiKey) -> StreamedAnswer:
    """Reserve, open the stream (a refusal raises here, with its status), and relay its events;
    once the last one is sent, settle the cost from the completed events and hand their images
    over for keeping."""
    provider = budgets.provider_for(request.model)
    reservation = budgets.spend_reserve(
        user_id=payer_for(api_key=api_key, request=request),
        api_key=api_key,
        amount=budgets.worst_case(request=request, provider=provider),
    )
    try:
        events = renderers.stream(request)
    except BaseException:
        budgets.spend_settle(reservation=reservation, cost=Decimal(0))
        raise
    provider = getattr(events, "provider", "") or provider
    expected = budgets.price_book().estimate(
        provider=provider,
        model=request.model,
        size=request.size,
        quality=request.options.get("quality"),
        n=request.n,
    )

    def relayed() -> Iterator[StreamEvent]:
        images: list[keeping.AnswerImage] = []
        usages: list[dict] = []
        try:
            for event in events:
                _collect_completed(event, images, usages)
                yield event
        finally:
            # The provider's slot is let go even when the client leaves half-way.
            close = getattr(events, "close", None)
            if close is not None:
                close()
            usage = _usage_sum(usages)
            cost = budgets.request_cost(
                request=request, provider=provider, usage=usage, images=len(images)
            )
            budgets.spend_settle(reservation=reservation, cost=cost, images=len(images))
            keeping.answer_hand_off(
                api_key=api_key,
                request=request,
                images=images,
                provider=provider,
                usage=usage,
                cost=cost,
            )

    return StreamedAnswer(events=relayed(), provider=provider, cost=expected)


def _collect_completed(
    event: StreamEvent, images: list[keeping.AnswerImage], usages: list[dict]
) -> None:
    if not (event.event or "").endswith(".completed") and '.completed"' not in event.data[:200]:
        return
    try:
        payload = json.loads(event.data)
        data = base64.b64decode(payload.get("b64_json") or "", validate=True)
    except (ValueError, TypeError, AttributeError):
        return
    kind = sniff_format(data) if data else None
    if kind is None:
        return
    images.append(keeping.AnswerImage(data=data, content_type=CONTENT_TYPES[kind]))
    if isinstance(payload.get("usage"), dict):
        usages.append(payload["usage"])


def _usage_sum(usages: list[dict]) -> dict | None:
    """One image's usage as sent; several images' token counts added up."""
    if not usages:
        return None
    if len(usages) == 1:
        return usages[0]
    total: dict = {}
    for usage in usages:
        for name, value in usage.items():
            if isinstance(value, int):
                total[name] = total.get(name, 0) + value
            elif isinstance(value, dict):
                inner = total.setdefault(name, {})
                for key, count in value.items():
                    if isinstance(count, int):
                        inner[key] = inner.get(key, 0) + count
    return total


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
    storage = IssuedImage._meta.get_field("file").storage
    name = issued_image_upload_to(issued, f"image{EXTENSIONS.get(content_type, '.bin')}")
    try:
        issued.file.name = storage.save(name, ContentFile(data))
        issued.save()
    except BaseException:
        # A write that failed part way (a full disk) leaves no partial file behind.
        with contextlib.suppress(Exception):
            storage.delete(issued.file.name or name)
        raise
    return issued


def issued_strays_sweep(*, now=None, limit: int = 1000) -> int:
    """Files under ``api-results/`` that no row names (a write whose row never committed),
    older than a URL's lifetime: deleted. Run by housekeeping (NOVISURF_HOUSEKEEPING)."""
    storage = IssuedImage._meta.get_field("file").storage
    cutoff = (now or timezone.now()) - timedelta(seconds=URL_LIFETIME_SECONDS)
    removed = 0
    for name in _walk(storage, "api-results"):
        if removed >= limit:
            break
        if IssuedImage.objects.filter(file=name).exists():
            continue
        try:
            if storage.get_modified_time(name) >= cutoff:
                continue
            storage.delete(name)
        except (OSError, NotImplementedError):
            continue
        removed += 1
    return removed


def _walk(storage, folder: str):
    try:
        directories, files = storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        yield f"{folder}/{name}"
    for directory in directories:
        yield from _walk(storage, f"{folder}/{directory}")


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
