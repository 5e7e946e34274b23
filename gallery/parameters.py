"""An image's parameters as a person reads them: one ordered table of what is known about how
it was made (from its generation, or from the file it was imported from), with nothing
invented. The image page, Compare and the exports read this one table."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Generation, Image
from .provider_client import model_label

# Each parameter, and the keys the tools that wrote a file's metadata use for it: A1111's
# "Key: value" line, then ComfyUI's sampler inputs.
SETTING_KEYS: dict[str, tuple[str, ...]] = {
    "Seed": ("Seed", "seed", "noise_seed"),
    "Steps": ("Steps", "steps"),
    "Sampler": ("Sampler", "sampler_name"),
    "Scheduler": ("Schedule type", "scheduler"),
    "CFG scale": ("CFG scale", "cfg", "guidance"),
    "Denoising strength": ("Denoising strength", "denoise"),
    "VAE": ("VAE",),
}
SOURCES = {
    "a1111": "Stable Diffusion web UI (A1111)",
    "novisurf": "Novisurf",
    "comfyui": "ComfyUI",
    "description": "the file's description",
    "comment": "the file's comment",
}


@dataclass(frozen=True)
class Parameter:
    label: str
    value: str


def image_parameters_table(image: Image) -> list[Parameter]:
    """Every known parameter of ``image``, in reading order; an unknown one is left out."""
    meta = image.metadata or {}
    settings = meta.get("settings") if isinstance(meta.get("settings"), dict) else {}
    generation: Generation | None = image.generation if image.generation_id else None
    rows: list[Parameter] = [Parameter("Prompt", image.prompt)]
    if image.revised_prompt:
        rows.append(Parameter("Revised prompt", image.revised_prompt))
    negative = meta.get("negative_prompt") or (
        (generation.options or {}).get("negative_prompt") if generation else None
    )
    if negative:
        rows.append(Parameter("Negative prompt", str(negative)))
    rows.append(Parameter("Model", model_label(image.model)))
    rows.append(Parameter("Size", f"{image.width} \u00d7 {image.height}"))
    for label, keys in SETTING_KEYS.items():
        value = next((settings[k] for k in keys if settings.get(k) not in (None, "")), None)
        if value is not None:
            rows.append(Parameter(label, str(value)))
    if generation is not None:
        for name, value in sorted((generation.options or {}).items()):
            if value not in (None, "") and name != "negative_prompt":
                rows.append(Parameter(name.replace("_", " ").capitalize(), str(value)))
    rows.append(Parameter("Source", image_source(image)))
    return rows


def image_source(image: Image) -> str:
    """Where the image came from, in words."""
    meta = image.metadata or {}
    generation = image.generation if image.generation_id else None
    if generation is not None and generation.source == "api" and generation.api_key_name:
        return f"API key: {generation.api_key_name}"
    if generation is not None:
        return "Generated here" + (f" by {generation.provider}" if generation.provider else "")
    imported = meta.get("imported_from")
    tool = SOURCES.get(str(meta.get("source", "")))
    if imported:
        return f"Imported from {imported}" + (f", written by {tool}" if tool else "")
    return "Imported"


def parameters_compared(a: Image, b: Image) -> list[tuple[str, str, str, bool]]:
    """Both images' parameters side by side: ``(label, a's value, b's value, differs)``, the
    labels of both in order; a parameter one of them lacks shows "—" there."""
    left = {p.label: p.value for p in image_parameters_table(a)}
    right = {p.label: p.value for p in image_parameters_table(b)}
    labels = list(left) + [label for label in right if label not in left]
    return [
        (label, left.get(label, "—"), right.get(label, "—"), left.get(label) != right.get(label))
        for label in labels
    ]
