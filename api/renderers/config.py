"""The providers file (``NOVISURF_PROVIDERS_FILE``): TOML ``[[providers]]`` and ``[[aliases]]``.

Read once at startup and checked whole: a wrong file stops the site, the worker and
``manage.py check`` with a message that names the file, the line and what to fix, rather than
failing one request at a time later. See the README ("Providers") for the full example.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from novisurf.protocol import MODELS

from .base import KINDS, ProviderConfig, ProviderConfigError

# The keys of a [[providers]] entry that ProviderConfig holds itself; any other goes to options.
PROVIDER_KEYS = frozenset(
    {
        "name",
        "kind",
        "base_url",
        "api_key",
        "models",
        "workflow",
        "timeout",
        "max_concurrency",
        "price_per_image",
        "auth_header",
    }
)
ALIAS_KEYS = frozenset({"name", "models"})
# Names the site gives providers of its own.
RESERVED_NAMES = frozenset({"novisurf"})
# A ComfyUI workflow must at least take the prompt; the adapter may ask for more.
COMFYUI_PLACEHOLDERS = ("{{prompt}}",)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")


@dataclass(frozen=True)
class AliasConfig:
    """One ``[[aliases]]`` entry: a model name that tries ``models`` in order."""

    name: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class ProvidersFile:
    path: str
    providers: tuple[ProviderConfig, ...] = ()
    aliases: tuple[AliasConfig, ...] = ()


class _Lines:
    """Where things are in the file's text: tomllib parses values without their lines."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: dict[str, list[int]] = {}
        self.starts: list[int] = []
        for number, line in enumerate(self.lines, start=1):
            match = re.match(r"\s*\[\[\s*([A-Za-z_-]+)\s*\]\]", line)
            if match:
                self.headers.setdefault(match.group(1), []).append(number)
            if re.match(r"\s*\[", line):
                self.starts.append(number)

    def of(self, table: str, index: int, key: str | None = None) -> int:
        headers = self.headers.get(table, [])
        if index >= len(headers):
            return 1
        start = headers[index]
        if key is None:
            return start
        end = next((n for n in self.starts if n > start), len(self.lines) + 1)
        pattern = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start + 1, end):
            if pattern.match(self.lines[number - 1]):
                return number
        return start


def providers_file_load(
    path: str | os.PathLike,
    *,
    environ: Mapping[str, str] | None = None,
    open_models: bool = False,
) -> ProvidersFile:
    """The checked contents of the providers file at ``path``, or :class:`ProviderConfigError`.

    ``open_models``: another provider takes every model nobody names (the ``NOVISURF_UPSTREAM_*``
    one), so an alias may name any model."""
    from .registry import load_kinds

    load_kinds()
    environ = os.environ if environ is None else environ
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProviderConfigError(
            f"{path}: cannot read the providers file ({exc.strerror or exc})"
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProviderConfigError(f"{path}: not valid TOML: {exc}") from None
    lines = _Lines(text)

    def fail(line: int, message: str) -> ProviderConfigError:
        return ProviderConfigError(f"{path}, line {line}: {message}")

    for key in document:
        if key not in ("providers", "aliases"):
            raise fail(1, f"unknown table '{key}': the file has [[providers]] and [[aliases]]")
    entries = document.get("providers", [])
    aliases = document.get("aliases", [])
    if not isinstance(entries, list) or not isinstance(aliases, list):
        raise fail(1, "write providers and aliases as [[providers]] and [[aliases]] tables")

    providers: list[ProviderConfig] = []
    names: dict[str, int] = {}
    models: dict[str, str] = {}
    for index, entry in enumerate(entries):
        line = lines.of("providers", index)
        provider = _provider(entry, index, lines, fail, base=path.parent, environ=environ)
        if provider.name in names or provider.name in RESERVED_NAMES:
            where = f" (line {names[provider.name]})" if provider.name in names else ""
            raise fail(
                lines.of("providers", index, "name"),
                f"the provider name '{provider.name}' is already taken{where}",
            )
        names[provider.name] = line
        for model in provider.models:
            if MODELS.get(model) is not None and MODELS[model].procedural:
                raise fail(
                    lines.of("providers", index, "models"),
                    f"the model '{model}' is the built-in renderer's; name yours otherwise",
                )
            if model in models:
                raise fail(
                    lines.of("providers", index, "models"),
                    f"the model '{model}' is already served by provider '{models[model]}'; "
                    "each model routes to one provider (use an alias to try several)",
                )
            models[model] = provider.name
        providers.append(provider)

    checked_aliases: list[AliasConfig] = []
    alias_names: set[str] = set()
    for index, entry in enumerate(aliases):
        line = lines.of("aliases", index)
        if not isinstance(entry, dict):
            raise fail(line, "an alias is a table with name and models")
        for key in entry:
            if key not in ALIAS_KEYS:
                raise fail(
                    lines.of("aliases", index, key),
                    f"unknown key '{key}' in an alias (it takes name and models)",
                )
        name = entry.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise fail(lines.of("aliases", index, "name"), "an alias needs a name (a string)")
        if name in models or name in alias_names or name in MODELS:
            raise fail(
                lines.of("aliases", index, "name"),
                f"the alias name '{name}' is already a model name",
            )
        targets = entry.get("models")
        if (
            not isinstance(targets, list)
            or not targets
            or not all(isinstance(m, str) and m for m in targets)
        ):
            raise fail(
                lines.of("aliases", index, "models"),
                "an alias needs models: a list of model names, tried in order",
            )
        alias_names.add(name)
        checked_aliases.append(AliasConfig(name=name, models=tuple(targets)))
    # Targets are checked once every name is known (an alias may name a model declared below).
    builtin = {spec.id for spec in MODELS.values() if spec.procedural}
    for index, alias in enumerate(checked_aliases):
        for target in alias.models:
            if target not in models and target not in builtin and not open_models:
                raise fail(
                    lines.of("aliases", index, "models"),
                    f"the alias '{alias.name}' names the model '{target}', which no provider "
                    "serves",
                )
            if target in alias_names:
                raise fail(
                    lines.of("aliases", index, "models"),
                    f"the alias '{alias.name}' names the alias '{target}'; name models only",
                )
    return ProvidersFile(path=str(path), providers=tuple(providers), aliases=tuple(checked_aliases))


def _provider(entry, index, lines: _Lines, fail, *, base: Path, environ) -> ProviderConfig:
    line = lines.of("providers", index)
    if not isinstance(entry, dict):
        raise fail(line, "a provider is a table: [[providers]] with name, kind, models...")

    def at(key: str) -> int:
        return lines.of("providers", index, key)

    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise fail(at("name"), "each provider needs a name: letters, digits and . _ - : / (unique)")
    kind = entry.get("kind")
    if not isinstance(kind, str) or kind not in KINDS or kind == "builtin":
        known = ", ".join(sorted(k for k in KINDS if k != "builtin"))
        raise fail(at("kind"), f"provider '{name}': unknown kind {kind!r}; the kinds are {known}")
    cls = KINDS[kind]

    base_url = entry.get("base_url", cls.default_base_url)
    if not isinstance(base_url, str) or not base_url:
        raise fail(at("base_url"), f"provider '{name}': base_url is required for kind {kind}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(
            at("base_url"), f"provider '{name}': base_url must be an http(s) URL, not {base_url!r}"
        )

    api_key = entry.get("api_key", "")
    if not isinstance(api_key, str):
        raise fail(at("api_key"), f"provider '{name}': api_key is a string (\"env:NAME\")")
    if api_key.startswith("env:"):
        variable = api_key[4:]
        if variable not in environ:
            raise fail(
                at("api_key"),
                f"provider '{name}': api_key reads the environment variable {variable}, "
                "which is not set",
            )
        api_key = environ[variable]

    models = entry.get("models")
    if (
        not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and NAME_PATTERN.match(m) for m in models)
    ):
        raise fail(
            at("models"),
            f"provider '{name}': models is a list of the model names clients send, "
            'such as ["sdxl-comfy"]',
        )
    if len(set(models)) != len(models):
        raise fail(at("models"), f"provider '{name}': a model is listed twice")

    workflow = None
    if cls.needs_workflow or kind == "comfyui" or "workflow" in entry:
        workflow = _workflow(entry.get("workflow"), name, cls, at("workflow"), fail, base=base)

    timeout = entry.get("timeout", 120.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise fail(at("timeout"), f"provider '{name}': timeout is a number of seconds above 0")
    concurrency = entry.get("max_concurrency", 4)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise fail(
            at("max_concurrency"),
            f"provider '{name}': max_concurrency is a whole number of requests, at least 1",
        )
    price = entry.get("price_per_image")
    if price is not None:
        try:
            price = Decimal(str(price)) if not isinstance(price, bool) else None
        except InvalidOperation:
            price = None
        if price is None or not price.is_finite() or price < 0:
            raise fail(
                at("price_per_image"),
                f"provider '{name}': price_per_image is a number of USD, such as 0.04",
            )
    auth_header = entry.get("auth_header", "bearer")
    if auth_header not in ("bearer", "x-api-key", "api-key"):
        raise fail(
            at("auth_header"),
            f"provider '{name}': auth_header is bearer, x-api-key or api-key",
        )

    config = ProviderConfig(
        name=name,
        kind=kind,
        base_url=base_url,
        api_key=api_key,
        models=tuple(models),
        workflow=workflow,
        timeout=float(timeout),
        max_concurrency=concurrency,
        price_per_image=price,
        auth_header=auth_header,
        options={k: v for k, v in entry.items() if k not in PROVIDER_KEYS},
    )
    try:
        cls.check_config(config)
    except ProviderConfigError as exc:
        raise fail(line, f"provider '{name}': {exc}") from None
    return config


def _workflow(value: Any, name: str, cls, line: int, fail, *, base: Path) -> dict:
    if not isinstance(value, str) or not value:
        raise fail(
            line,
            f"provider '{name}': kind {cls.kind} needs workflow, the path of an API-format "
            "workflow JSON file (relative to this file)",
        )
    path = base / value
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(
            line, f"provider '{name}': cannot read the workflow {path} ({exc.strerror or exc})"
        ) from None
    try:
        workflow = json.loads(text)
    except ValueError as exc:
        raise fail(line, f"provider '{name}': the workflow {path} is not JSON: {exc}") from None
    if not isinstance(workflow, dict) or not workflow:
        raise fail(
            line,
            f"provider '{name}': the workflow {path} is not an API-format workflow "
            "(an object of nodes)",
        )
    placeholders = tuple(dict.fromkeys((*COMFYUI_PLACEHOLDERS, *cls.workflow_placeholders)))
    found = set(_strings(workflow))
    for placeholder in placeholders:
        if placeholder not in found:
            raise fail(
                line,
                f"provider '{name}': the workflow {path} has no string value exactly "
                f"{placeholder!r}; put it where the workflow takes it",
            )
    return workflow


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
