"""How a stored file reaches the browser, as the storage wants it (``NOVISURF_FILE_DELIVERY``):

- ``presigned`` (S3-compatible storage): a redirect to a short-lived presigned URL, so that the
  bytes go from the store to the browser and no web thread carries them. The redirect is
  ``private`` (it is one owner's), kept by the browser for less than the URL lives.
- ``sendfile`` (files on disk behind a proxy): an empty answer with ``X-Accel-Redirect``
  (nginx) or ``X-Sendfile`` (Apache, lighttpd) naming ``NOVISURF_SENDFILE_PREFIX`` + the storage
  name; the proxy sends the file from an internal location only it serves.
- ``stream``: the file through this process (``FileResponse``: the server's sendfile where it
  has one).

The view has checked the owner before any of these. Files never change under a name (names are
unique), so an ``If-None-Match`` that matches is a 304 without touching storage. Storage that
cannot be reached is a 503 that says so (thumbnails: a placeholder picture), never a 500.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import quote

from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
)

logger = logging.getLogger(__name__)

CACHE_FOREVER = "private, max-age=31536000, immutable"
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = "The image store cannot be reached right now. Try again in a minute."

# What a tile shows while storage is unreachable: a grey card with a broken-picture mark.
PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
    '<title>Image unavailable</title><rect width="64" height="64" fill="#8a8f98"/>'
    '<path d="M18 44l10-12 7 8 5-6 6 10z" fill="#d7dae0"/>'
    '<circle cx="40" cy="24" r="4" fill="#d7dae0"/></svg>'
)


class StorageUnavailable(Exception):
    """The storage could not be reached (as opposed to a file that is not there)."""


def etag_for(name: str) -> str:
    return '"' + hashlib.sha256(name.encode()).hexdigest()[:32] + '"'


def _not_modified(request: HttpRequest, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    return etag in [tag.strip() for tag in wanted.split(",")] or wanted.strip() == "*"


def serve(request: HttpRequest, field, *, content_type: str) -> HttpResponse:
    """The answer for one stored file (``field``: an Image's FileField value)."""
    name = field.name
    if not name:
        raise Http404("This image has no such file.")
    mode = settings.NOVISURF_FILE_DELIVERY
    if mode == "presigned":
        try:
            url = field.storage.url(name)
        except Exception as exc:
            logger.warning("Could not presign %s", name, exc_info=True)
            raise StorageUnavailable(name) from exc
        response = HttpResponseRedirect(url)
        lifetime = getattr(field.storage, "querystring_expire", 300)
        response["Cache-Control"] = f"private, max-age={max(0, int(lifetime) - 60)}"
        return response

    etag = etag_for(name)
    if _not_modified(request, etag):
        response = HttpResponseNotModified()
    elif mode == "sendfile":
        response = HttpResponse(content_type=content_type)
        header = settings.NOVISURF_SENDFILE_HEADER
        response[header] = settings.NOVISURF_SENDFILE_PREFIX + quote(name)
    else:
        try:
            handle = field.storage.open(name, "rb")
        except FileNotFoundError:
            raise Http404("The file is missing from storage.") from None
        except Exception as exc:
            logger.warning("Could not open %s", name, exc_info=True)
            raise StorageUnavailable(name) from exc
        response = FileResponse(handle, content_type=content_type)
    response["ETag"] = etag
    # Private to its owner: browsers may keep it, shared caches must not.
    response["Cache-Control"] = CACHE_FOREVER
    return response


def unavailable(*, placeholder: bool = False) -> HttpResponse:
    if placeholder:
        response = HttpResponse(PLACEHOLDER_SVG, content_type="image/svg+xml", status=503)
    else:
        response = HttpResponse(UNAVAILABLE, content_type="text/plain; charset=utf-8", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
