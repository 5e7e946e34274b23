"""Edit an image from its page: a prompt and an optional mask make a new, linked generation."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from .. import services
from ..forms import TagForm
from .images import edit_form_for, image_page_render
from .lookups import image_or_404


@login_required
@require_POST
def image_edit(request: HttpRequest, image_id) -> HttpResponse:
    image = image_or_404(request, image_id)
    form = edit_form_for(image, request.POST, request.FILES)
    if form.is_valid():
        try:
            generation = services.edit_create(
                owner=request.user,
                image=image,
                prompt=form.cleaned_data["prompt"],
                mask=form.cleaned_data["mask"],
                model=form.cleaned_data["model"],
            )
        except services.EditRejected as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except services.LimitReached as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("gallery:generation", generation_id=generation.pk)
    return image_page_render(request, image, TagForm(), status=400, edit_form=form, edit_open=True)
