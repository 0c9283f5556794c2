"""Any OpenAI-compatible completions server: vLLM serve, SGLang, llama.cpp's server, Ollama.
Base URL and model from arguments or SELFMINE_OPENAI_BASE_URL / SELFMINE_OPENAI_MODEL / OPENAI_API_KEY.
A LoRA adapter is addressed by its served name (vLLM: `--lora-modules name=path`)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from .base import Engine, EngineError
from .records import Completion, SamplingParams, cut_at_stop, prompt_seeds


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 600.0,
        retries: int = 3,
        concurrency: int = 32,
    ):
        self.base_url = (base_url or os.environ.get("SELFMINE_OPENAI_BASE_URL") or "http://localhost:8000/v1").rstrip(
            "/"
        )
        self.model_name = model or os.environ.get("SELFMINE_OPENAI_MODEL") or ""
        if not self.model_name:
            raise EngineError("the openai backend needs a model name (--model or SELFMINE_OPENAI_MODEL)")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "none")
        self.timeout, self.retries = timeout, retries
        self.concurrency = max(1, concurrency)  # requests in flight: the server batches them (vLLM, SGLang)

    def info(self) -> dict:
        return {"backend": self.name, "model": self.model_name, "base_url": self.base_url}

    def _post(self, body: dict) -> dict:
        req = urllib.request.Request(
            f"{self.base_url}/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        for attempt in range(self.retries):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                if e.code < 500 or attempt == self.retries - 1:
                    raise EngineError(f"{self.base_url} answered HTTP {e.code}: {e.read()[:300]!r}") from None
            except (urllib.error.URLError, OSError) as e:
                if attempt == self.retries - 1:
                    raise EngineError(f"cannot reach {self.base_url}: {getattr(e, 'reason', e)}") from None
            time.sleep(2**attempt)
        raise AssertionError

    def _one(self, seed: int, prompt: str, params: SamplingParams, adapter) -> list[Completion]:
        body = {
            "model": adapter or self.model_name,
            "prompt": prompt,
            "n": params.n,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": seed,
        }
        if params.stop:
            body["stop"] = params.stop
        if params.top_k:
            body["top_k"] = params.top_k
        data = self._post(body)
        usage = data.get("usage", {})
        choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
        out = []
        for c in choices:
            text, reason, stop = c["text"], c.get("finish_reason") or "stop", ""
            hit = cut_at_stop(text, params.stop)  # servers differ on stop handling; cut once more
            if hit:
                text, stop, reason = hit[0], hit[1], "stop"
            per = usage.get("completion_tokens", 0) // max(1, len(choices))
            out.append(
                Completion(text, "length" if reason == "length" else "stop", usage.get("prompt_tokens", 0), per, stop)
            )
        return out

    def generate(self, prompts, params: SamplingParams, adapter=None, progress=False, seeds=None):
        """All prompts in flight at once (up to `concurrency`), so the server can batch them; results in
        prompt order, each request with its prompt's own seed."""
        prompts = list(prompts)
        jobs = list(zip(prompt_seeds(params, len(prompts), seeds), prompts))
        with ThreadPoolExecutor(min(self.concurrency, max(1, len(prompts)))) as ex:
            return list(ex.map(lambda sp: self._one(sp[0], sp[1], params, adapter), jobs))
