"""Test images made in memory with Pillow, and helpers for tests that use loopback servers.

Like Wagtail's ``wagtail/images/tests/utils.py``: small images are built in memory rather than
read from files kept in the repository.
"""

from __future__ import annotations

import base64
import io
import random
import time

from django.core.files.storage import default_storage
from PIL import Image


def image_bytes(
    size=(64, 48), colour=(200, 40, 90), *, format="PNG", noise=False, **save_options
) -> bytes:
    """An RGB image of ``size`` in ``format``: one flat ``colour``, or, with ``noise``, noise.

    Noise comes from ``random.Random(1)``, so it is the same on every run and does not compress
    (a 64x64 PNG of it is about 12 KB). ``save_options`` go to ``Image.save`` (``quality=90`` for a JPEG, say).
    """
    if noise:
        pixels = random.Random(1).randbytes(size[0] * size[1] * 3)
        image = Image.frombytes("RGB", size, pixels)
    else:
        image = Image.new("RGB", size, colour)
    buffer = io.BytesIO()
    image.save(buffer, format, **save_options)
    return buffer.getvalue()


def png_bytes(size=(64, 48), colour=(200, 40, 90), *, noise=False) -> bytes:
    """A PNG: see :func:`image_bytes`."""
    return image_bytes(size, colour, format="PNG", noise=noise)


def b64(data: bytes) -> str:
    """``data`` in base64, as a ``b64_json`` field carries it."""
    return base64.b64encode(data).decode("ascii")


def settle(server, count: int) -> None:
    """Wait (up to 5 s) until ``server`` has answered ``count`` requests, so that none of a slow
    test's requests is still being answered when the next test starts."""
    deadline = time.monotonic() + 5
    while len(server.log) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def stored_names(folder: str) -> list[str]:
    """Every file the default storage holds under ``folder``, through the storage API (so the
    same test reads a folder on disk or a prefix in a bucket)."""
    names: list[str] = []
    pending = [folder.rstrip("/")]
    while pending:
        path = pending.pop()
        try:
            dirs, files = default_storage.listdir(path)
        except FileNotFoundError:
            continue
        names.extend(f"{path}/{name}" for name in files)
        pending.extend(f"{path}/{name}" for name in dirs)
    return sorted(names)


def is_stored(name: str) -> bool:
    """Whether the default storage holds ``name``."""
    return bool(name) and default_storage.exists(name)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def storage_env(settings) -> dict[str, str]:
    """The environment that gives a process started by a test this test's own storage: its
    temporary folder on disk, or its prefix in the run's bucket on S3."""
    options = settings.STORAGES["default"].get("OPTIONS", {})
    if "bucket_name" in options:
        return {"AWS_LOCATION": options.get("location", "")}
    return {"MEDIA_ROOT": str(settings.MEDIA_ROOT)}
