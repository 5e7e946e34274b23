"""The ``azure`` kind: Azure OpenAI's image API.

An Azure resource serves each model through a *deployment* of its own name:
``POST {base_url}/openai/deployments/{deployment}/images/generations?api-version=...`` (and
``/images/edits``), with the key in an ``api-key`` header; the body and the answer are OpenAI's.
With ``api_version = "v1"`` the resource's v1 API is used instead
(``{base_url}/openai/v1/images/generations``, the deployment named as the ``model``).

Options (in the provider's entry of the providers file):
- ``api_version``: default ``2025-04-01-preview``;
- ``deployments``: a table ``{model = "deployment"}``; a model not in it is its own deployment.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from novisurf.client import ClientConfig
from novisurf.protocol import GenerationRequest

from .base import ProviderConfig, ProviderConfigError, register
from .openai import OpenAIRenderer

DEFAULT_API_VERSION = "2025-04-01-preview"


@register
class AzureRenderer(OpenAIRenderer):
    kind = "azure"
    previews = False
    edits = True

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        deployments = config.options.get("deployments", {})
        if not isinstance(deployments, dict) or not all(
            isinstance(v, str) and v for v in deployments.values()
        ):
            raise ProviderConfigError(
                'deployments must be a table of model = "deployment name" pairs'
            )
        version = config.options.get("api_version", DEFAULT_API_VERSION)
        if not isinstance(version, str) or not version:
            raise ProviderConfigError('api_version must be a string such as "2025-04-01-preview"')

    @property
    def api_version(self) -> str:
        return self.config.options.get("api_version", DEFAULT_API_VERSION)

    def deployment(self, model: str) -> str:
        return self.config.options.get("deployments", {}).get(model, model)

    def _resource(self) -> str:
        base = self.config.base_url.rstrip("/")
        return base.removesuffix("/openai")

    def client_config_for(self, model: str) -> ClientConfig:
        config = replace(self.client_config(), auth_header="api-key")
        if self.api_version == "v1":
            return replace(config, base_url=f"{self._resource()}/openai/v1")
        return replace(
            config,
            base_url=f"{self._resource()}/openai/deployments/{self.deployment(model)}",
            query=(("api-version", self.api_version),),
        )

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        body = request.upstream_body()
        if self.api_version == "v1":
            body["model"] = self.deployment(request.model)
        else:
            body.pop("model", None)  # the deployment is the model
        return body
