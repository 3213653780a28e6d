"""An LLM generator through any OpenAI-compatible chat-completions endpoint.

Used only when an endpoint is configured (see resources/llm.py). The model is asked for
JSON matching the fixture's schema; a reply that does not validate is sent back once with
the validation errors so the model can correct it. The registry still validates the final
output before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from kgents_assets.hotdata.errors import GeneratorError
from kgents_assets.hotdata.generators.base import GenerationContext, GeneratorFn
from kgents_assets.hotdata.validation import adapter_for, issues_from


@dataclass(frozen=True)
class ChatEndpoint:
    """``base_url`` like ``http://localhost:8000/v1``; ``api_key`` may be empty locally."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 120.0

    async def complete_json(self, messages: list[dict[str, str]], temperature: float) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "response_format": {"type": "json_object"},
        }
        url = self.base_url.rstrip("/") + "/chat/completions"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise GeneratorError(f"LLM endpoint {url} unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise GeneratorError(
                f"LLM endpoint {url} answered {response.status_code}: {response.text[:300]}"
            )
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(f"LLM endpoint {url} sent an unexpected reply: {exc}") from exc
        if not isinstance(content, str):
            raise GeneratorError(f"LLM endpoint {url} sent no text content")
        return content


def _strip_fences(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def llm_generator(endpoint: ChatEndpoint, prompt: str, schema: Any) -> GeneratorFn:
    """A generator asking ``endpoint`` for one fixture matching ``schema``."""
    json_schema = json.dumps(adapter_for(schema).json_schema())

    async def generate(ctx: GenerationContext) -> Any:
        messages = [
            {
                "role": "system",
                "content": (
                    "You write fixture data for the kgents demo world. Reply with JSON only, "
                    f"valid against this JSON Schema:\n{json_schema}"
                ),
            },
            {"role": "user", "content": f"{prompt}\n(seed {ctx.seed}, fixture {ctx.name})"},
        ]
        temperature = round(0.2 + 0.8 * ctx.entropy, 2)
        last_error = ""
        for _attempt in range(2):
            text = _strip_fences(await endpoint.complete_json(messages, temperature))
            try:
                return adapter_for(schema).validate_json(text)
            except ValidationError as exc:
                last_error = "; ".join(str(issue) for issue in issues_from(exc))[:2000]
                messages += [
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": f"That JSON is invalid: {last_error}. "
                        "Reply with corrected JSON only.",
                    },
                ]
        raise GeneratorError(f"LLM output for {ctx.name!r} stayed invalid: {last_error}")

    return generate
