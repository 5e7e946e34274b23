"""A finished render as the events of a stream, for engines that cannot show progress.

The events have the shape the OpenAI SDK parses (``image_generation.completed`` /
``image_edit.completed``), as the procedural renderer's own stream sends them.
"""

from __future__ import annotations

import base64
import time

from novisurf.protocol import CONTENT_TYPES, GenerationRequest

from . import RenderResult, StreamEvent

_FORMATS = {content_type: name for name, content_type in CONTENT_TYPES.items()}
# The answer's fields every completed event repeats, where the render reported them.
EVENT_FIELDS = ("background", "output_format", "quality", "size")


def completed_events(request: GenerationRequest, result: RenderResult) -> list[StreamEvent]:
    """One ``completed`` event per image, in order; the answer's ``usage`` rides on the last."""
    shared = {name: result.fields[name] for name in EVENT_FIELDS if result.fields.get(name)}
    created = int(time.time())
    events = []
    last = len(result.images) - 1
    for index, image in enumerate(result.images):
        payload = {
            "type": f"{request.event_prefix}.completed",
            "b64_json": base64.b64encode(image.data).decode("ascii"),
            "created_at": created,
            "output_format": _FORMATS.get(image.content_type, "png"),
            **shared,
        }
        if image.revised_prompt:
            payload["revised_prompt"] = image.revised_prompt
        if index == last and result.fields.get("usage"):
            payload["usage"] = result.fields["usage"]
        events.append(StreamEvent.of(payload))
    return events
