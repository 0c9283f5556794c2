"""vLLM backend for GPUs (`pip install selfmine[vllm]`). Imported only when chosen. Adapters are applied
per request through vLLM's LoRA support (LoRARequest), never merged into the weights."""

from __future__ import annotations

import os

from .base import Engine, EngineError
from .models import resolve_model
from .types import Completion, SamplingParams, cut_at_stop, prompt_seeds


class VLLMEngine(Engine):
    name = "vllm"
    holds_accelerator = True

    def __init__(
        self,
        model: str | None = None,
        max_lora_rank: int = 64,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int = 4096,
        **kwargs,
    ):
        try:
            from vllm import LLM
        except ImportError:
            raise EngineError("the vllm backend needs `pip install selfmine[vllm]` and a GPU") from None
        self.model_name = model or "default"
        self.path = resolve_model(model)
        self.llm = LLM(
            model=self.path,
            enable_lora=True,
            max_lora_rank=max_lora_rank,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            **kwargs,
        )
        self._lora_ids: dict[str, int] = {}

    def info(self) -> dict:
        import vllm

        return {"backend": self.name, "model": self.model_name, "path": str(self.path), "vllm": vllm.__version__}

    def _lora(self, adapter: str | None):
        if adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        key = os.path.realpath(adapter)
        lora_id = self._lora_ids.setdefault(key, len(self._lora_ids) + 1)
        return LoRARequest(f"adapter{lora_id}", lora_id, key)

    def generate(self, prompts, params: SamplingParams, adapter=None, progress=False, seeds=None):
        from vllm import SamplingParams as VSP

        sps = [  # one per prompt: vLLM seeds each request on its own, so a prompt's samples keep its seed
            VSP(
                n=params.n,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k or -1,
                max_tokens=params.max_tokens,
                stop=params.stop or None,
                seed=s,
            )
            for s in prompt_seeds(params, len(prompts), seeds)
        ]
        outs = self.llm.generate(prompts, sps, lora_request=self._lora(adapter), use_tqdm=progress)
        results = []
        for o in outs:
            row = []
            for c in o.outputs:
                text, stop = c.text, c.stop_reason if isinstance(c.stop_reason, str) else ""
                hit = cut_at_stop(text, params.stop)
                if hit:
                    text, stop = hit
                reason = "length" if c.finish_reason == "length" and not hit else "stop"
                row.append(Completion(text, reason, len(o.prompt_token_ids), len(c.token_ids), stop))
            results.append(row)
        return results

    def close(self) -> None:
        """Give the GPU back (the pipeline does this before training: vLLM holds `gpu_memory_utilization`
        of the card). The steps vLLM's own tests use; each is skipped where this vLLM lacks it."""
        import contextlib
        import gc

        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        with contextlib.suppress(Exception):
            llm.llm_engine.engine_core.shutdown()  # V1: the engine core runs in its own process
        del llm
        with contextlib.suppress(Exception):
            from vllm.distributed import destroy_distributed_environment, destroy_model_parallel

            destroy_model_parallel()
            destroy_distributed_environment()
        with contextlib.suppress(Exception):
            import torch

            if torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
        gc.collect()
        with contextlib.suppress(Exception):
            import torch

            torch.cuda.empty_cache()
