"""A fake ComfyUI, from its public server API (``server.py``, docs.comfy.org "Server routes" and
"Websocket messages").

- ``POST /prompt`` ``{"prompt": <API workflow>, "client_id"}`` -> ``{"prompt_id", "number",
  "node_errors"}``; an invalid workflow -> 400 ``{"error": {"type", "message", "details",
  "extra_info"}, "node_errors": {...}}``.
- ``/ws?clientId=`` -> JSON messages (``status``, ``execution_start``, ``executing``,
  ``progress``, ``executed``, ``execution_success``, ``execution_error``) to that client, and
  binary preview frames: 4-byte big-endian type 1, a 4-byte image type (1 JPEG, 2 PNG), the image.
- ``GET /history/{prompt_id}`` -> ``{}`` until done, then ``{id: {"prompt", "outputs":
  {node: {"images": [{"filename", "subfolder", "type"}]}}, "status": {"status_str",
  "completed", "messages"}}}``.
- ``GET /view?filename=&subfolder=&type=`` -> the file; ``POST /upload/image`` and
  ``/upload/mask`` (multipart ``image``, ``type``, ``subfolder``, ``overwrite``, and
  ``original_ref`` for a mask) -> ``{"name", "subfolder", "type"}``.
- ``POST /interrupt`` and ``POST /queue`` ``{"delete": [ids]}``.

The "executor" is a thread per prompt: it reads width, height, batch_size, seed and text from
the nodes' inputs, and makes one flat image per batch item with Pillow.
"""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import uuid
from typing import Any

from PIL import Image

from tests.fakes import MAX_WAIT, FakeServer, Recorded, Reply, ServerSocket, picture

OUTPUT_NODES = {"SaveImage": "output", "PreviewImage": "temp"}

# The default text-to-image workflow of ComfyUI's own examples (script_examples), in API format,
# with the placeholders an operator puts in it.
WORKFLOW = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "cfg": 8,
            "denoise": 1,
            "latent_image": ["5", 0],
            "model": ["4", 0],
            "negative": ["7", 0],
            "positive": ["6", 0],
            "sampler_name": "euler",
            "scheduler": "normal",
            "seed": "{{seed}}",
            "steps": 20,
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"batch_size": "{{batch_size}}", "height": "{{height}}", "width": "{{width}}"},
    },
    "6": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "{{prompt}}"}},
    "7": {
        "class_type": "CLIPTextEncode",
        "inputs": {"clip": ["4", 1], "text": "{{negative_prompt}}"},
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}


def edit_workflow() -> dict[str, Any]:
    """The same, starting from a loaded image (LoadImage's mask is the image's alpha)."""
    workflow = json.loads(json.dumps(WORKFLOW))
    workflow["10"] = {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}}
    workflow["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}}
    return workflow


_INT_INPUTS = ("width", "height", "batch_size", "seed", "steps")


class FakeComfyUI(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 3
        self.step_delay = 0.0
        # Faults
        self.refuse: dict | None = None  # a 400 body for POST /prompt
        self.status_faults: list[tuple[int, dict]] = []  # (status, headers) answered first
        self.never_finish = False
        self.drop_socket_after_previews: int | None = None
        self.not_an_image = False
        self.execution_error: str | None = None
        self.preview_format = "JPEG"
        # State
        self.sockets: dict[str, ServerSocket] = {}
        self.history: dict[str, dict] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.interrupted = threading.Event()
        self.deleted: list[str] = []
        self.queued: list[str] = []
        self.first_preview_sent: dict[str, float] = {}
        self._counter = 0

    # -- HTTP -------------------------------------------------------------------------------

    def route(self, request: Recorded) -> Reply:
        if self.status_faults and request.path == "/prompt":
            status, headers = self.status_faults.pop(0)
            body = {"error": {"type": "server_error", "message": f"HTTP {status}"}}
            return Reply(status, body, headers)
        path = request.path
        if path == "/prompt" and request.method == "POST":
            return self._prompt(request)
        if path.startswith("/history/"):
            prompt_id = path.rsplit("/", 1)[1]
            with self.lock:
                entry = self.history.get(prompt_id)
            return Reply(200, {prompt_id: entry} if entry else {})
        if path == "/view":
            key = (
                request.query.get("type", "output"),
                request.query.get("subfolder", ""),
                request.query.get("filename", ""),
            )
            with self.lock:
                data = self.files.get(key)
            if data is None:
                return Reply(404, b"404: Not Found", {"Content-Type": "text/plain"})
            return Reply(200, data, {"Content-Type": "image/png"})
        if path in ("/upload/image", "/upload/mask") and request.method == "POST":
            return self._upload(request, mask=path.endswith("mask"))
        if path == "/interrupt" and request.method == "POST":
            self.interrupted.set()
            return Reply(200, b"")
        if path == "/queue" and request.method == "POST":
            self.deleted.extend((request.json or {}).get("delete", []))
            return Reply(200, b"")
        return Reply(404, b"404: Not Found", {"Content-Type": "text/plain"})

    def _prompt(self, request: Recorded) -> Reply:
        body = request.json
        if not isinstance(body, dict) or "prompt" not in body:
            return Reply(400, _error("no_prompt", "No prompt provided", ""))
        if self.refuse is not None:
            return Reply(400, self.refuse)
        workflow = body["prompt"]
        problems = self._validate(workflow)
        if problems:
            return Reply(
                400,
                {
                    **_error(
                        "prompt_outputs_failed_validation", "Prompt outputs failed validation", ""
                    ),
                    "node_errors": problems,
                },
            )
        prompt_id = body.get("prompt_id") or str(uuid.uuid4())
        with self.lock:
            self._counter += 1
            number = self._counter
            self.queued.append(prompt_id)
        threading.Thread(
            target=self._execute,
            args=(prompt_id, workflow, body.get("client_id")),
            daemon=True,
        ).start()
        return Reply(200, {"prompt_id": prompt_id, "number": number, "node_errors": {}})

    def _validate(self, workflow: Any) -> dict:
        """What ComfyUI's validate_inputs would refuse: unfilled placeholders where a number
        goes, a LoadImage of a file never uploaded, no output node."""
        if not isinstance(workflow, dict):
            return {"?": {"errors": [{"message": "not a workflow"}]}}
        problems: dict[str, Any] = {}
        for node_id, node in workflow.items():
            inputs = node.get("inputs", {})
            for name in _INT_INPUTS:
                if name in inputs and not isinstance(inputs[name], (int, list)):
                    problems[node_id] = _node_error(
                        node,
                        "value_not_valid",
                        f"Failed to convert an input value to a INT value: {name}, {inputs[name]}",
                    )
            if node.get("class_type") == "LoadImage":
                name = inputs.get("image")
                subfolder, _, filename = str(name).rpartition("/")
                with self.lock:
                    known = ("input", subfolder, filename) in self.files
                if not known:
                    problems[node_id] = _node_error(
                        node, "custom_validation_failed", f"Invalid image file: {name}"
                    )
        if not any(n.get("class_type") in OUTPUT_NODES for n in workflow.values()):
            return {
                "": {"errors": [{"type": "prompt_no_outputs", "message": "Prompt has no outputs"}]}
            }
        return problems

    def _upload(self, request: Recorded, *, mask: bool) -> Reply:
        part = request.files.get("image")
        if part is None:
            return Reply(400, b"", {})
        filename, data, _ = part
        kind = request.form.get("type", "input")
        subfolder = request.form.get("subfolder", "")
        if mask:
            ref = json.loads(request.form.get("original_ref", "{}"))
            key = (ref.get("type", "input"), ref.get("subfolder", ""), ref.get("filename", ""))
            with self.lock:
                original = self.files.get(key)
            if original is None:
                return Reply(404, b"", {})
            # As ComfyUI's /upload/mask: the mask's alpha becomes the original's alpha.
            image = Image.open(io.BytesIO(original)).convert("RGBA")
            alpha = Image.open(io.BytesIO(data)).convert("RGBA").getchannel("A")
            image.putalpha(alpha.resize(image.size))
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            data = buffer.getvalue()
        with self.lock:
            self.files[(kind, subfolder, filename)] = data
        return Reply(200, {"name": filename, "subfolder": subfolder, "type": kind})

    # -- the websocket --------------------------------------------------------------------

    def upgrade(self, handler, request: Recorded) -> bool:
        if request.path != "/ws" or request.headers.get("upgrade", "").lower() != "websocket":
            return False
        client_id = request.query.get("clientId") or uuid.uuid4().hex
        with self.lock:
            sock = ServerSocket(handler)
            self.sockets[client_id] = sock
        sock.send_json(
            {
                "type": "status",
                "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id},
            }
        )
        # Hold the connection until the client or the test ends it.
        handler.connection.settimeout(0.1)
        deadline = time.monotonic() + MAX_WAIT * 4
        while not sock.closed and not self.stopping and time.monotonic() < deadline:
            try:
                data = handler.connection.recv(4096)
                if not data:
                    break
                if data[0] & 0x0F == 0x8:  # the client's close frame: answer it, as servers do
                    sock.close()
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        with self.lock:
            if self.sockets.get(client_id) is sock:
                del self.sockets[client_id]
        return True

    def _send(self, client_id: str | None, payload: Any) -> None:
        with self.lock:
            sock = self.sockets.get(client_id or "")
        if sock is None or sock.closed:
            return
        try:
            if isinstance(payload, bytes):
                sock.send_binary(payload)
            else:
                sock.send_json(payload)
        except OSError:
            pass

    # -- the executor ---------------------------------------------------------------------

    def _execute(self, prompt_id: str, workflow: dict, client_id: str | None) -> None:
        inputs = {
            name: v for node in workflow.values() for name, v in node.get("inputs", {}).items()
        }
        width, height = int(inputs.get("width", 512)), int(inputs.get("height", 512))
        batch = int(inputs.get("batch_size", 1))
        seed = int(inputs.get("seed", 0))
        self._send(client_id, {"type": "execution_start", "data": {"prompt_id": prompt_id}})
        self._send(
            client_id,
            {
                "type": "executing",
                "data": {"node": "3", "display_node": "3", "prompt_id": prompt_id},
            },
        )
        previews = 0
        deadline = time.monotonic() + MAX_WAIT
        step = 0
        while step < self.steps or self.never_finish:
            if self.stopping or time.monotonic() > deadline or self.interrupted.is_set():
                self._send(
                    client_id,
                    {
                        "type": "execution_interrupted",
                        "data": {
                            "prompt_id": prompt_id,
                            "node_id": "3",
                            "node_type": "KSampler",
                            "executed": [],
                        },
                    },
                )
                return
            time.sleep(self.step_delay if not self.never_finish else 0.05)
            step += 1
            if self.never_finish:
                continue
            self._send(
                client_id,
                {
                    "type": "progress",
                    "data": {"value": step, "max": self.steps, "prompt_id": prompt_id, "node": "3"},
                },
            )
            frame = picture(
                max(8, width // 8), max(8, height // 8), seed + step, format=self.preview_format
            )
            image_type = 1 if self.preview_format == "JPEG" else 2
            self.first_preview_sent.setdefault(prompt_id, time.perf_counter())
            self._send(client_id, struct.pack(">II", 1, image_type) + frame)
            previews += 1
            if (
                self.drop_socket_after_previews is not None
                and previews >= self.drop_socket_after_previews
            ):
                with self.lock:
                    sock = self.sockets.get(client_id or "")
                if sock is not None:
                    sock.drop()
        if self.execution_error:
            error = {
                "prompt_id": prompt_id,
                "node_id": "3",
                "node_type": "KSampler",
                "executed": [],
                "exception_message": self.execution_error,
                "exception_type": "torch.OutOfMemoryError",
                "traceback": [],
                "current_inputs": {},
                "current_outputs": {},
            }
            self._send(client_id, {"type": "execution_error", "data": error})
            with self.lock:
                self.history[prompt_id] = {
                    "prompt": [0, prompt_id, workflow, {}, []],
                    "outputs": {},
                    "status": {
                        "status_str": "error",
                        "completed": False,
                        "messages": [["execution_error", error]],
                    },
                }
            return
        outputs = {}
        for node_id, node in workflow.items():
            kind = OUTPUT_NODES.get(node.get("class_type"))
            if kind is None:
                continue
            images = []
            for index in range(batch):
                filename = f"ComfyUI_{prompt_id[:8]}_{index:05}_.png"
                data = (
                    b"this is not an image"
                    if self.not_an_image
                    else picture(width, height, seed + index)
                )
                with self.lock:
                    self.files[(kind, "", filename)] = data
                images.append({"filename": filename, "subfolder": "", "type": kind})
            outputs[node_id] = {"images": images}
            self._send(
                client_id,
                {
                    "type": "executed",
                    "data": {
                        "node": node_id,
                        "display_node": node_id,
                        "output": {"images": images},
                        "prompt_id": prompt_id,
                    },
                },
            )
        self._send(
            client_id,
            {
                "type": "execution_success",
                "data": {"prompt_id": prompt_id, "timestamp": int(time.time() * 1000)},
            },
        )
        with self.lock:
            self.history[prompt_id] = {
                "prompt": [0, prompt_id, workflow, {"client_id": client_id}, list(outputs)],
                "outputs": outputs,
                "status": {
                    "status_str": "success",
                    "completed": True,
                    "messages": [
                        ["execution_start", {"prompt_id": prompt_id}],
                        ["execution_success", {"prompt_id": prompt_id}],
                    ],
                },
                "meta": {},
            }
        self._send(client_id, {"type": "executing", "data": {"node": None, "prompt_id": prompt_id}})


def _error(kind: str, message: str, details: str) -> dict:
    return {"error": {"type": kind, "message": message, "details": details, "extra_info": {}}}


def _node_error(node: dict, kind: str, message: str) -> dict:
    return {
        "errors": [{"type": kind, "message": message, "details": message, "extra_info": {}}],
        "dependent_outputs": ["9"],
        "class_type": node.get("class_type"),
    }
