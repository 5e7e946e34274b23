"""How a stored file reaches the browser, as the storage wants it (``NOVISURF_FILE_DELIVERY``):

- ``presigned`` (S3-compatible storage): a redirect to a short-lived presigned URL, so that the
  bytes go from the store to the browser and no web thread carries them. The redirect is
  ``private`` (it is one owner's), kept by the browser for less than the URL lives.
- ``sendfile`` (files on disk behind a proxy): an empty answer with ``X-Accel-Redirect``
  (nginx) or ``X-Sendfile`` (Apache, lighttpd) naming ``NOVISURF_SENDFILE_PREFIX`` + the storage
  name; the proxy sends the file from an internal location only it serves.
- ``stream``: the file through this process (``FileResponse``: the server's sendfile where it
  has one).

An SVG is a document that can carry script and outside references. It is never answered as a
page of this site: on disk it comes with ``Content-Security-Policy: sandbox`` (no script, an
opaque origin) that also lets it load nothing, and ``nosniff``; on S3 the presigned URL makes
the store answer it as an attachment (a presigned URL can set the type and disposition, not a
CSP), so it is downloaded, never rendered on the store's origin.

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


# What an SVG original is served with: no script, no plugin, no request to anywhere (its
# embedded data: pictures and its own styles still draw).
SVG_POLICY = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
SVG_TYPE = "image/svg+xml"


class StorageUnavailable(Exception):
    """The storage could not be reached (as opposed to a file that is not there)."""


def etag_for(name: str) -> str:
    return '"' + hashlib.sha256(name.encode()).hexdigest()[:32] + '"'


def _not_modified(request: HttpRequest, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    return etag in [tag.strip() for tag in wanted.split(",")] or wanted.strip() == "*"


def serve(
    request: HttpRequest,
    field,
    *,
    content_type: str,
    filename: str = "",
    as_attachment: bool = False,
) -> HttpResponse:
    """The answer for one stored file (``field``: an Image's FileField value).

    ``as_attachment``: a download named ``filename``. An SVG on S3 is always one (the store
    cannot be told to send a CSP); elsewhere it is shown sandboxed.
    """
    name = field.name
    if not name:
        raise Http404("This image has no such file.")
    is_svg = content_type == SVG_TYPE
    mode = settings.NOVISURF_FILE_DELIVERY
    if mode == "presigned":
        try:
            if is_svg:
                url = field.storage.url(
                    name,
                    parameters={
                        "ResponseContentType": SVG_TYPE,
                        "ResponseContentDisposition": attachment(filename or "image.svg"),
                    },
                )
            else:
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
    if as_attachment:
        response["Content-Disposition"] = attachment(filename or name.rsplit("/", 1)[-1])
    if is_svg:
        sandbox(response)
    return response


def sandbox(response: HttpResponse) -> HttpResponse:
    """Headers that keep an SVG (or anything a browser might read as a page) inert."""
    response["Content-Security-Policy"] = SVG_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    return response


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` for a download: an ASCII name, and the exact one (RFC 6266)."""
    plain = filename.encode("ascii", "replace").decode().replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


def unavailable(*, placeholder: bool = False) -> HttpResponse:
    if placeholder:
        response = HttpResponse(PLACEHOLDER_SVG, content_type="image/svg+xml", status=503)
    else:
        response = HttpResponse(UNAVAILABLE, content_type="text/plain; charset=utf-8", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
