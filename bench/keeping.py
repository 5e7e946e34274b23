"""Keeping the endpoint's answers in the library: the answer's time with keeping on against
the same request with it off, and images kept per second in the background against the
gallery's own store (image_store of the same PNG)."""

from __future__ import annotations

import json
import uuid

from django.test import Client
from django_tasks_db.models import DBTaskResult

from api.keeping import AnswerImage, _handed
from api.models import ApiKey
from api.services import apikey_create
from bench.fixtures import BODY, PROMPT, SIZE, bench_user, rendered_png
from bench.timing import Report, compare
from gallery.models import Generation
from gallery.services import answer_keep_or_retry, image_store
from novisurf.protocol import PROCEDURAL_MODEL
from novisurf_site.keeping import AnsweredImages

TITLE = f"Keeping API answers: POST /v1/images/generations, n=1, {SIZE}"
PATH = "/v1/images/generations"
REPEATS = 15
WARMUP = 2


def _poster(client: Client, raw_key: str, body: str):
    headers = {"Authorization": f"Bearer {raw_key}"}

    def post() -> None:
        response = client.post(PATH, data=body, content_type="application/json", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(
                f"{PATH} answered {response.status_code}: {response.content[:300]!r}"
            )

    return post


def _answer(owner_id: int, key: ApiKey, data: bytes) -> dict:
    """One answer handed over as the endpoint hands it (its bytes written to storage)."""
    return AnsweredImages(
        answer_id=uuid.uuid4().hex,
        owner_id=owner_id,
        key_id=key.pk,
        key_name=key.name,
        kind="generate",
        prompt=PROMPT,
        model=PROCEDURAL_MODEL,
        n=1,
        size=SIZE,
        response_format="b64_json",
        options={},
        provider="novisurf",
        cost="0.00",
        usage=None,
        images=[_handed(AnswerImage(data=data, content_type="image/png"))],
    ).to_json()


def run(report: Report) -> None:
    user = bench_user()
    keeping, keeping_raw = apikey_create(owner=user, name="bench keeps")
    _, plain_raw = apikey_create(owner=user, name="bench does not keep", keep_images=False)
    client = Client()
    for response_format in ("b64_json", "url"):
        body = json.dumps({**BODY, "response_format": response_format})
        on, off = compare(
            _poster(client, keeping_raw, body),
            _poster(client, plain_raw, body),
            repeats=REPEATS,
            warmup=WARMUP,
        )
        report.row(f"keeping on, {response_format}", on, "same request, keeping off", off)
    queued = DBTaskResult.objects.filter(task_path="gallery.tasks.answer_keep").count()
    report.info("  answers queued for keeping", f"{queued}")
    DBTaskResult.objects.filter(task_path="gallery.tasks.answer_keep").delete()

    data = rendered_png()
    answers = iter([_answer(user.pk, keeping, data) for _ in range(REPEATS + WARMUP)])
    generation = Generation.objects.create(
        owner=user,
        prompt=PROMPT,
        model=PROCEDURAL_MODEL,
        n=1,
        size=SIZE,
        response_format="b64_json",
        status=Generation.Status.RUNNING,
    )
    indexes = iter(range(10_000))

    def keep() -> None:
        if answer_keep_or_retry(answered=next(answers)) is None:
            raise RuntimeError("an answer was not kept")

    kept, stored = compare(
        keep,
        lambda: image_store(generation=generation, index=next(indexes), data=data),
        repeats=REPEATS,
        warmup=WARMUP,
    )
    report.row("keep one answer (task body)", kept, "gallery image_store", stored)
    report.info("  images kept per second", f"{1 / kept:.1f}/s")
    report.info("  images stored per second (gallery)", f"{1 / stored:.1f}/s")
