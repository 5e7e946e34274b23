"""Upload: files dropped on the gallery or picked, each verified and stored, or refused alone."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import services
from ..forms import split_tags
from ._common import back

MAX_FILES_PER_REQUEST = 50


@login_required
@require_POST
def image_upload(request: HttpRequest) -> HttpResponse:
    uploaded = request.FILES.getlist("files")
    files = uploaded[:MAX_FILES_PER_REQUEST]
    tags = split_tags(request.POST.get("tags", ""))[:20]
    # The browser's File.lastModified of each file, in the files' order (milliseconds).
    modified = request.POST.getlist("last_modified")
    results = []
    for position, upload in enumerate(files):
        data = upload.read()
        result = services.image_import(
            owner=request.user,
            data=data,
            filename=upload.name or "image",
            tag_names=tags,
            modified_at=_moment(modified[position] if position < len(modified) else ""),
        )
        results.append(
            {
                "name": result.name,
                "status": result.status,
                "reason": result.reason,
                "url": reverse("gallery:image", args=[result.image.pk]) if result.image else None,
            }
        )
    # Files past the limit are reported, not dropped in silence: they can be sent again.
    for upload in uploaded[MAX_FILES_PER_REQUEST:]:
        results.append(
            {
                "name": upload.name or "image",
                "status": "failed",
                "reason": f"Not imported: at most {MAX_FILES_PER_REQUEST} files at a time; "
                "import it again.",
                "url": None,
            }
        )
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"results": results}, status=200 if files else 400)
    if not files:
        messages.error(request, "Choose one or more image files first.")
        return back(request)
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("imported", "duplicate")}
    failed = [r for r in results if r["status"] == "failed"]
    summary = f"Imported {counts['imported']}; {counts['duplicate']} already there"
    if failed:
        summary += "; failed: " + "; ".join(f"{r['name']}: {r['reason']}" for r in failed)
    messages.success(request, summary + ".")
    return back(request)


def _moment(milliseconds: str) -> datetime | None:
    """A time in milliseconds since 1970 (what a browser's ``File.lastModified`` is), or None."""
    if not milliseconds.isdigit() or len(milliseconds) > 15:
        return None
    return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
