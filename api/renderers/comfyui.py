"""ComfyUI: a workflow queued with ``POST /prompt``, watched over ``/ws``, read from ``/history``.

The provider's workflow is ComfyUI's API format (``{node_id: {"class_type", "inputs"}}``) in which
a string value that is exactly ``{{prompt}}``, ``{{negative_prompt}}``, ``{{width}}``,
``{{height}}``, ``{{seed}}`` or ``{{batch_size}}`` is replaced (numbers as numbers). For edits,
``{{image}}`` (and ``{{mask}}``) name the files uploaded through ``/upload/image``; a mask with no
``{{mask}}`` of its own goes into the image's alpha through ``/upload/mask``, which is how
ComfyUI's LoadImage reads a mask (transparent: repaint), as OpenAI's mask means too.

Previews come as binary websocket messages to the client that queued the prompt; a stream
turns them into ``partial_image`` events. Without a websocket (a proxy that has none, or one that
drops) the history is polled instead. On the deadline the prompt is taken off the queue and the
run interrupted.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import struct
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from novisurf.client import ClientError, EndpointTimeout, EndpointUnavailable
from novisurf.engine_socket import EngineSocket, websocket_url
from novisurf.protocol import GenerationRequest, ProtocolError, sniff_format

from . import RenderedImage, RenderResult, StreamEvent
from .base import ProviderConfig, ProviderConfigError, Renderer, register
from .engine import (
    FIRST_POLL_INTERVAL,
    Deadline,
    PartialSchedule,
    completed_event,
    engine_client,
    image_of,
    next_interval,
    partial_event,
    quietly,
    result_of,
)

ENGINE = "ComfyUI"
NUMBER_PLACEHOLDERS = ("width", "height", "seed", "batch_size")
TEXT_PLACEHOLDERS = ("prompt", "negative_prompt")
FILE_PLACEHOLDERS = ("image", "mask")
PLACEHOLDERS = (*TEXT_PLACEHOLDERS, *NUMBER_PLACEHOLDERS, *FILE_PLACEHOLDERS)
_PLACEHOLDER = re.compile(r"^\{\{\s*([A-Za-z_]+)\s*\}\}$")
# Binary websocket messages (ComfyUI's protocol.BinaryEventTypes): a 4-byte big-endian type.
PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4
MAX_SEED = 2**32 - 1


def placeholders_in(workflow: Any) -> set[str]:
    """Every ``{{name}}`` that is a whole string value somewhere in ``workflow``."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            match = _PLACEHOLDER.match(value)
            if match:
                found.add(match.group(1))
        elif isinstance(value, Mapping):
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(workflow)
    return found


def fill_workflow(workflow: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``workflow`` with each placeholder replaced by its value (numbers as numbers)."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            match = _PLACEHOLDER.match(value)
            if match and match.group(1) in values:
                return values[match.group(1)]
            return value
        if isinstance(value, Mapping):
            return {key: fill(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [fill(inner) for inner in value]
        return value

    return fill(copy.deepcopy(dict(workflow)))


@register
class ComfyUIRenderer(Renderer):
    kind = "comfyui"
    previews = True
    needs_workflow = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.placeholders = placeholders_in(config.workflow or {})
        # Edits only where the workflow loads an image.
        self.edits = "image" in self.placeholders

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        workflow = config.workflow
        if not isinstance(workflow, Mapping) or not workflow:
            raise ProviderConfigError(
                "a comfyui provider needs 'workflow', a ComfyUI workflow in API format "
                "(in ComfyUI: Workflow > Export (API))."
            )
        for node_id, node in workflow.items():
            if not isinstance(node, Mapping) or not isinstance(node.get("inputs"), Mapping):
                raise ProviderConfigError(
                    f"the workflow's node {node_id!r} has no 'inputs': is it the API "
                    "format (Workflow > Export (API)) rather than the UI's saved workflow?"
                )
            if not isinstance(node.get("class_type"), str):
                raise ProviderConfigError(f"the workflow's node {node_id!r} has no 'class_type'.")
        found = placeholders_in(workflow)
        unknown = sorted(found - set(PLACEHOLDERS))
        if unknown:
            raise ProviderConfigError(
                f"the workflow has placeholders ComfyUI requests do not fill: "
                f"{', '.join('{{' + name + '}}' for name in unknown)} (known: "
                f"{', '.join('{{' + name + '}}' for name in PLACEHOLDERS)})."
            )
        if "prompt" not in found:
            raise ProviderConfigError(
                "the workflow has no {{prompt}} placeholder: put the string "
                '"{{prompt}}" where the positive prompt goes (a CLIPTextEncode\'s "text").'
            )
        if "mask" in found and "image" not in found:
            raise ProviderConfigError("the workflow has {{mask}} but no {{image}} to go with it.")

    # -- rendering --------------------------------------------------------------------------

    def render(self, request: GenerationRequest) -> RenderResult:
        images: list[RenderedImage] = []
        for item in self._run(request):
            if isinstance(item, RenderedImage):
                images.append(item)
        return result_of(images, request)

    def stream(self, request: GenerationRequest) -> Iterator[StreamEvent]:
        self._check(request)
        runs = self._run(request, previews=request.partial_images > 0)
        # The first step (uploads, the queueing) runs now, so that a refusal is an error
        # status rather than an event.
        first = next(runs)

        def events() -> Iterator[StreamEvent]:
            schedule = PartialSchedule(request.partial_images)
            for item in _chain(first, runs):
                if isinstance(item, RenderedImage):
                    yield completed_event(request, item)
                elif isinstance(item, _Preview) and schedule.take(item.fraction):
                    yield partial_event(request, item.data, schedule.sent - 1)

        return events()

    def _check(self, request: GenerationRequest) -> None:
        if request.is_edit and not self.edits:
            raise ProtocolError(
                f"The model {request.model} does not take an image: its ComfyUI workflow has "
                "no {{image}} placeholder.",
                param="image",
                code="unsupported_value",
            )

    def _run(self, request: GenerationRequest, *, previews: bool = False) -> Iterator[Any]:
        """Yields ``_Queued`` once the prompt is queued, then previews and result images."""
        self._check(request)
        deadline = Deadline(self.config.timeout)
        client = engine_client(self.config)
        files = self._upload_inputs(client, request) if request.is_edit else {}
        width, height = request.dimensions
        seed = _seed(request)
        batched = "batch_size" in self.placeholders
        runs = 1 if batched else request.n
        for run in range(runs):
            values = {
                "prompt": request.prompt,
                "negative_prompt": str(self.config.options.get("negative_prompt", "")),
                "width": width,
                "height": height,
                "seed": (seed + run) % (MAX_SEED + 1),
                "batch_size": request.n if batched else 1,
                **files,
            }
            workflow = fill_workflow(self.config.workflow or {}, values)
            yield from self._one_run(client, workflow, deadline, previews=previews)

    def _one_run(self, client, workflow, deadline: Deadline, *, previews: bool) -> Iterator[Any]:
        client_id = uuid.uuid4().hex
        # The socket is opened before the prompt is queued, or its first messages are missed.
        sock = self._open_socket(client_id, deadline)
        try:
            answer = client.request_json(
                "POST", "/prompt", json_body={"prompt": workflow, "client_id": client_id}
            )
            prompt_id = answer.get("prompt_id") if isinstance(answer, dict) else None
            if not isinstance(prompt_id, str) or not prompt_id:
                raise EndpointUnavailable(f"{ENGINE} queued the prompt but sent no prompt_id.")
            try:
                yield _QUEUED
                entry = yield from self._watch(client, sock, prompt_id, deadline, previews)
            except (EndpointTimeout, GeneratorExit):
                # Past the deadline, or the client went away mid-stream: the GPU stops too.
                self._cancel(client, prompt_id)
                raise
            for ref in _output_images(entry):
                yield self._fetch(client, ref)
        finally:
            if sock is not None:
                sock.close()

    def _open_socket(self, client_id: str, deadline: Deadline) -> EngineSocket | None:
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        try:
            sock = EngineSocket(
                websocket_url(self.config.base_url, f"/ws?clientId={client_id}"),
                headers=headers,
                timeout=min(5.0, max(0.1, deadline.remaining())),
            )
        except ClientError:
            return None  # the history is polled instead
        try:
            # ComfyUI greets a new socket with its queue "status" once it has registered the
            # client id; a prompt queued before that could run before its messages have a
            # socket to go to.
            sock.recv(min(2.0, max(0.01, deadline.remaining())))
        except ClientError:
            sock.close()
            return None
        return sock

    def _watch(self, client, sock, prompt_id: str, deadline: Deadline, previews: bool):
        """Previews as they come; the prompt's history entry once it has run."""
        interval = FIRST_POLL_INTERVAL
        fraction: float | None = None
        while True:
            if deadline.expired:
                raise deadline.error(ENGINE)
            if sock is not None:
                try:
                    message = sock.recv(min(1.0, max(0.01, deadline.remaining())))
                except EndpointTimeout:
                    message = None  # quiet for a second: look at the history in case
                except EndpointUnavailable:
                    sock.close()
                    sock = None  # dropped: go on by polling the history
                    continue
                if isinstance(message, bytes):
                    if previews:
                        data = _preview_bytes(message)
                        if data is not None:
                            yield _Preview(data, fraction)
                    continue
                if isinstance(message, str):
                    event = _json(message)
                    kind, data = event.get("type"), event.get("data") or {}
                    if not isinstance(data, dict) or data.get("prompt_id") not in (None, prompt_id):
                        continue
                    if kind == "progress" and data.get("max"):
                        fraction = float(data.get("value", 0)) / float(data["max"])
                        continue
                    if kind == "execution_error" and data.get("prompt_id") == prompt_id:
                        raise _execution_error(data)
                    if kind == "execution_interrupted" and data.get("prompt_id") == prompt_id:
                        raise EndpointUnavailable(
                            f"{ENGINE} interrupted the prompt.", code="interrupted"
                        )
                    # "executing" with no node comes once the history has the outputs
                    # (execution_success comes just before they are written).
                    done = kind == "executing" and data.get("node") is None
                    if not (done and data.get("prompt_id") == prompt_id):
                        continue
            entry = self._history(client, prompt_id)
            if entry is not None:
                return entry
            if sock is None or message is not None:
                deadline.sleep(interval)
                interval = next_interval(interval)

    def _history(self, client, prompt_id: str) -> dict[str, Any] | None:
        history = client.request_json("GET", f"/history/{prompt_id}")
        entry = history.get(prompt_id) if isinstance(history, dict) else None
        if not isinstance(entry, dict):
            return None
        status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
        if status.get("status_str") == "error":
            for name, data in status.get("messages") or []:
                if name == "execution_error" and isinstance(data, dict):
                    raise _execution_error(data)
            raise EndpointUnavailable(f"{ENGINE} could not run the prompt.", code="execution_error")
        if status and not status.get("completed", True):
            return None
        return entry

    def _fetch(self, client, ref: dict[str, Any]) -> RenderedImage:
        query = urlencode(
            {
                "filename": ref.get("filename", ""),
                "subfolder": ref.get("subfolder", ""),
                "type": ref.get("type", "output"),
            }
        )
        return image_of(client.download(f"{client.base_url}/view?{query}"), ENGINE)

    def _cancel(self, client, prompt_id: str) -> None:
        # Off the queue if it has not started; interrupted if it is running.
        quietly(lambda: client.request_json("POST", "/queue", json_body={"delete": [prompt_id]}))
        quietly(
            lambda: client.request_json("POST", "/interrupt", json_body={"prompt_id": prompt_id})
        )

    def _upload_inputs(self, client, request: GenerationRequest) -> dict[str, str]:
        image = request.images[0]
        uploaded = self._upload(
            client, "/upload/image", image.filename, image.data, image.content_type
        )
        files = {"image": uploaded}
        if request.mask is not None:
            mask = request.mask
            if "mask" in self.placeholders:
                files["mask"] = self._upload(
                    client, "/upload/image", mask.filename, mask.data, mask.content_type
                )
            else:
                subfolder, _, name = uploaded.rpartition("/")
                ref = json.dumps({"filename": name, "subfolder": subfolder, "type": "input"})
                files["image"] = self._upload(
                    client,
                    "/upload/mask",
                    mask.filename,
                    mask.data,
                    mask.content_type,
                    extra=[("original_ref", ref)],
                )
        return files

    def _upload(self, client, path, filename, data, content_type, *, extra=()) -> str:
        answer = client.request_json(
            "POST",
            path,
            form=[("type", "input"), ("overwrite", "true"), *extra],
            files=[("image", (f"novisurf-{uuid.uuid4().hex}-{filename}", data, content_type))],
        )
        name = answer.get("name") if isinstance(answer, dict) else None
        if not isinstance(name, str) or not name:
            raise EndpointUnavailable(f"{ENGINE} took the upload but named no file.")
        subfolder = answer.get("subfolder") or ""
        # LoadImage names a file of the input folder as "subfolder/name".
        return f"{subfolder}/{name}" if subfolder else name


class _Preview:
    __slots__ = ("data", "fraction")

    def __init__(self, data: bytes, fraction: float | None) -> None:
        self.data = data
        self.fraction = fraction


_QUEUED = object()


def _chain(first, rest):
    yield first
    yield from rest


def _seed(request: GenerationRequest) -> int:
    seed = request.options.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed % (MAX_SEED + 1)
    return secrets.randbelow(MAX_SEED + 1)


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _preview_bytes(message: bytes) -> bytes | None:
    """The image of a binary preview message, or None for another kind of message."""
    if len(message) < 8:
        return None
    (event,) = struct.unpack(">I", message[:4])
    if event == PREVIEW_IMAGE:
        data = message[8:]  # then a 4-byte image type (1 JPEG, 2 PNG), then the image
    elif event == PREVIEW_IMAGE_WITH_METADATA:
        (length,) = struct.unpack(">I", message[4:8])
        data = message[8 + length :]
        if sniff_format(data) is None and sniff_format(data[4:]) is not None:
            data = data[4:]
    else:
        return None
    return data if sniff_format(data) in ("jpeg", "png", "webp") else None


def _execution_error(data: dict[str, Any]) -> EndpointUnavailable:
    what = data.get("exception_message") or data.get("exception_type") or "an error"
    node = data.get("node_type") or data.get("node_id")
    where = f" in node {node}" if node else ""
    return EndpointUnavailable(
        f"{ENGINE} failed{where}: {str(what).strip()}", code="execution_error"
    )


def _output_images(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The images of the workflow's output nodes: saved ones (type "output") where there are
    any, else what preview nodes showed."""
    outputs = entry.get("outputs") if isinstance(entry.get("outputs"), dict) else {}
    refs = [
        ref
        for node in outputs.values()
        if isinstance(node, dict)
        for ref in node.get("images") or []
        if isinstance(ref, dict) and isinstance(ref.get("filename"), str)
    ]
    saved = [ref for ref in refs if ref.get("type") == "output"]
    chosen = saved or refs
    if not chosen:
        raise EndpointUnavailable(
            f"{ENGINE} ran the workflow but it output no image: does it end in a SaveImage node?",
            code="empty_response",
        )
    return chosen
