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


# -- carrying settings over to a new request ---------------------------------------------------


@dataclass(frozen=True)
class Carried:
    """A request that makes an image like ``image`` again with what the target model takes,
    and, in words, what could not come along (and why)."""

    body: dict
    dropped: list[str]


# Parameters of other tools that the OpenAI request has no field for.
NOT_IN_THE_API = ("Negative prompt", *SETTING_KEYS)


def settings_carry(*, image: Image, available: list[str]) -> Carried:
    """The request for "Use these settings" and "Copy as API call": the image's model if it is
    ``available`` here (else the first that is), and every setting that model takes; what it
    does not take is left out and named, never silently changed."""
    from novisurf.protocol import ProtocolError, spec_for, validate_generation

    generation: Generation | None = image.generation if image.generation_id else None
    dropped: list[str] = []
    model = image.model
    if model not in available and available:
        model = available[0]
        dropped.append(
            f"the model “{image.model}”, not offered here ({model_label(model)} instead)"
        )
    body: dict = {
        "prompt": image.prompt,
        "model": model,
        "n": generation.n if generation else 1,
        "size": (generation.size if generation else "") or image.size,
    }
    if generation is not None and generation.response_format:
        body["response_format"] = generation.response_format
    if generation is not None:
        body.update({k: v for k, v in (generation.options or {}).items() if v not in (None, "")})
    for _ in range(len(body) + 2):
        try:
            validate_generation(body, serves=lambda m: m in available or not available)
            break
        except ProtocolError as exc:
            name = exc.param or ""
            spec = spec_for(body["model"])
            if name == "size":
                dropped.append(
                    f"the size {body['size']} ({model_label(body['model'])} takes "
                    f"{', '.join(spec.sizes[:4])}…; {spec.default_size} instead)"
                )
                body["size"] = spec.default_size
            elif name == "n":
                dropped.append(f"{body['n']} images at once (at most {spec.max_n})")
                body["n"] = spec.max_n
            elif name in body and name not in ("prompt", "model"):
                dropped.append(f"{name.replace('_', ' ')} {body.pop(name)} ({exc.message})")
            else:
                break
    known = {p.label for p in image_parameters_table(image)}
    foreign = [label for label in NOT_IN_THE_API if label in known]
    if foreign:
        dropped.append(
            f"{', '.join(foreign)}: the endpoint's API has no field for "
            f"{'it' if len(foreign) == 1 else 'them'}"
        )
    return Carried(body=body, dropped=dropped)
