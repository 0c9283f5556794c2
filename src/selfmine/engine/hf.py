"""Hugging Face transformers backend with its own decoding loop, built for a small CPU.

Why not `model.generate`: on 2 cores the work that matters is (1) prefilling each prompt once and sharing
its KV cache across the n samples, (2) dropping a sequence from the batch the moment it hits a stop
string or the end token instead of decoding padding, (3) nucleus sampling over a top-256 candidate set
(exact whenever those candidates hold the top_p mass, checked per row) instead of sorting 262k logits, and
(4) running the vocabulary projection only for the last position during prefill, and (5) on CPU, running
the linear layers through oneDNN's kernel while decoding (`onednn.py`: MKL's skinny sgemm is 2-3x slower
on the AMD CPUs measured here).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from pathlib import Path

import torch

from ..seeds import mix_seed
from . import invariant, onednn, slots
from .base import Engine
from .models import resolve_model
from .numerics import cpu_has_native_bf16
from .records import Completion, SamplingParams, prompt_seeds

NUCLEUS_CANDIDATES = 256


def resolve_dtype(dtype: str | None, device: str) -> torch.dtype:
    """ "auto": bfloat16 on GPUs and on CPUs with native bf16 arithmetic (AVX512-BF16 / AMX), where it runs
    2-4x faster than float32; float32 elsewhere (emulated bf16 would be slower). Gemma and most current
    models are trained in bf16; pass "float32" for bit-exact greedy output against a float32 reference."""
    if dtype in (None, "auto"):
        return torch.bfloat16 if device != "cpu" or cpu_has_native_bf16() else torch.float32
    try:
        value = getattr(torch, dtype)
    except AttributeError:
        value = None
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16")
    return value


class HFEngine(Engine):
    name = "hf"

    def __init__(
        self,
        model: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        onednn_linears: bool = True,
        batch_invariant: bool = True,
        decoding: str = "slots",
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_name = model or "default"
        self.path = resolve_model(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.holds_accelerator = self.device != "cpu"
        if self.device == "cpu":
            torch.set_num_threads(threads or os.cpu_count() or 1)
        torch_dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=torch_dtype).to(self.device).eval()
        self.batch_size = batch_size
        self.onednn_linears = onednn_linears
        # False only for benchmarks/batch_invariance.py: the previous decoding (batched prefill, stock SDPA,
        # single-row GEMMs), whose samples depend on the batch.
        self.batch_invariant = batch_invariant
        self.min_rows = invariant.MIN_ROWS if batch_invariant else 1
        # "slots": continuous batching (`slots.py`); "chunks": the previous loop, which decodes fixed chunks
        # to their longest row (kept as the benchmarks' baseline and for models the slots do not fit).
        if decoding not in ("slots", "chunks"):
            raise ValueError(f"unknown decoding {decoding!r}: use slots or chunks")
        self.decoding = decoding if batch_invariant else "chunks"
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.eos_ids = self._eos_ids()
        self._peft = None
        self._adapters: dict[str, str] = {}
        # transformers 5 renamed `past_key_values` to `cache`; accept both generations of the API.
        import inspect

        self._cache_kw = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    def _eos_ids(self) -> set[int]:
        ids = set()
        for source in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids

    def close(self) -> None:
        """Drop the weights (on a GPU, give the memory back for training)."""
        import gc

        self.model = None
        gc.collect()
        if self.device != "cpu" and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def info(self) -> dict:
        out = {
            "backend": self.name,
            "model": self.model_name,
            "path": str(self.path),
            "device": self.device,
            "dtype": str(self.model.dtype).replace("torch.", ""),
            "linear_kernel": "onednn" if self._use_onednn() else "aten",
            "batch_invariant": self.batch_invariant,
            "decoding": self.decoding,
            # decode-step attention with query heads grouped per key head (slots.grouped_attention): it
            # changes last bits, so a greedy base made before it is not reused for one made after
            "attention": "grouped" if self.decoding == "slots" else "sdpa",
        }
        meta = Path(self.path) / "selfmine.json"  # provenance of a converted default or preset model
        if meta.exists():
            out["weights"] = json.loads(meta.read_text())
        return out

    def _use_onednn(self) -> bool:
        return self.onednn_linears and self.device == "cpu" and onednn.available(self.model.dtype)

    # -- adapters -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _using(self, adapter: str | None):
        """The module to run: the base model, or the base with one LoRA adapter active (not merged)."""
        if adapter is None:
            if self._peft is None:
                yield self.model
            else:
                with self._peft.disable_adapter():
                    yield self._peft
            return
        from peft import PeftModel

        key = os.path.realpath(adapter)
        if key not in self._adapters:
            name = f"a{len(self._adapters)}"
            if self._peft is None:
                self._peft = PeftModel.from_pretrained(self.model, adapter, adapter_name=name).eval()
            else:
                self._peft.load_adapter(adapter, adapter_name=name)
            self._adapters[key] = name
        self._peft.set_adapter(self._adapters[key])
        yield self._peft

    # -- generation -----------------------------------------------------------------------------------
    def generate(self, prompts, params: SamplingParams, adapter=None, progress=False, seeds=None):
        seeds = prompt_seeds(params, len(prompts), seeds)
        encoded = [self.tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
        results: list[list[Completion | None]] = [[None] * params.n for _ in prompts]
        per_prompt = max(1, min(params.n, self.batch_size))
        prompts_per_chunk = max(1, self.batch_size // per_prompt)
        # Work items: (prompt index, first sample, sample count); similar lengths batch together.
        items = [
            (i, s, min(per_prompt, params.n - s)) for i in range(len(prompts)) for s in range(0, params.n, per_prompt)
        ]
        items.sort(key=lambda it: (len(encoded[it[0]]), it[2]))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(prompts) * params.n, desc="generate", unit="seq", dynamic_ncols=True)
        start, tokens = time.perf_counter(), 0

        def finish(prompt: int, sample: int, completion: Completion) -> None:
            nonlocal tokens
            results[prompt][sample] = completion
            tokens += completion.completion_tokens
            if bar:
                bar.update(1)
                bar.set_postfix(tok_s=f"{tokens / (time.perf_counter() - start):.1f}")

        with self._using(adapter) as model, torch.inference_mode(), onednn.linears(model, self._use_onednn()):
            if self.decoding == "slots" and self.batch_invariant:
                try:
                    decoder = slots.SlotDecoder(
                        self,
                        model,
                        encoded,
                        params,
                        rng_of=lambda i, s: random.Random(mix_seed(seeds[i], s)),
                        finish=lambda row, c: finish(row.prompt, row.sample, c),
                    )
                    decoder.run(items, self.batch_size)
                    items = []
                except slots.Unsupported:
                    pass  # the chunked loop below decodes them
            with invariant.decode_attention(model, self.batch_invariant and bool(items)):
                for chunk in _chunks(items, prompts_per_chunk):
                    # One random stream per sample, from its prompt's seed and its index among the n.
                    rngs = [random.Random(mix_seed(seeds[i], s + j)) for i, s, k in chunk for j in range(k)]
                    outs = self._decode_chunk(model, [encoded[i] for i, _, _ in chunk], chunk[0][2], params, rngs)
                    for (i, s, _), completions in zip(chunk, outs):
                        for j, c in enumerate(completions):
                            finish(i, s + j, c)
        if bar:
            bar.close()
        return results  # type: ignore[return-value]

    def _prefill(self, model, ids_list: list[list[int]], k: int):
        """(cache, last logits per row, attention mask) for the chunk's rows, each prompt repeated k times.
        Each prompt is prefilled alone and unpadded, so its cache and first logits never depend on the other
        prompts of its chunk (`invariant.py`); a cache of a kind that cannot be joined falls back to one
        left-padded batch."""
        dev = self.device
        width = max(len(x) for x in ids_list)
        attn = torch.zeros((len(ids_list), width), dtype=torch.long)
        for r, ids in enumerate(ids_list):
            attn[r, width - len(ids) :] = 1
        attn = attn.to(dev).repeat_interleave(k, 0)
        if self.batch_invariant:
            caches, logits = [], []
            for ids in ids_list:
                out = model(input_ids=torch.tensor([ids], device=dev), use_cache=True, logits_to_keep=1)
                caches.append(self._cache_of(out))
                logits.append(out.logits[:, -1, :])
                if not invariant.joinable(caches[0]):  # known after the first prompt: no work done twice
                    break
            else:
                cache = invariant.join_caches(model.config, caches, [len(x) for x in ids_list], k)
                return cache, torch.cat(logits).repeat_interleave(k, 0), attn
        input_ids = torch.full((len(ids_list), width), self.pad_id, dtype=torch.long)
        for r, ids in enumerate(ids_list):
            input_ids[r, width - len(ids) :] = torch.tensor(ids)
        mask = attn[::k]
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        out = model(
            input_ids=input_ids.to(dev), attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1
        )
        cache = self._cache_of(out)
        if k > 1:  # the n samples of a prompt share its prefilled cache
            cache.batch_repeat_interleave(k)
        return cache, out.logits[:, -1, :].repeat_interleave(k, 0), attn

    def _decode_chunk(
        self, model, ids_list: list[list[int]], k: int, params: SamplingParams, rngs: list[random.Random]
    ) -> list[list[Completion]]:
        dev = self.device
        cache, logits, attn = self._prefill(model, ids_list, k)
        rows = len(ids_list) * k
        state = [slots.Row(r // k, r % k, rngs[r], len(ids_list[r // k])) for r in range(rows)]
        finished: list[Completion | None] = [None] * rows
        active = list(range(rows))  # the real rows; the tensors hold one copy more when only one is left
        if rows < self.min_rows:
            cache, attn, logits = self._select(cache, attn, logits, [0] * self.min_rows)
        max_stop = max((len(s) for s in params.stop), default=0)
        for step in range(params.max_tokens):
            uniforms = None if params.greedy else torch.tensor([rngs[r].random() for r in active], dtype=torch.float64)
            next_tok = self._pick(logits[: len(active)], params, uniforms).tolist()
            keep = []
            for j, r in enumerate(active):
                finished[r] = slots.ended(self, state[r], next_tok[j], params, max_stop)
                if finished[r] is None:
                    keep.append(j)
            if not keep or step == params.max_tokens - 1:
                break
            if len(keep) < len(active):  # finished sequences stop costing compute
                rows_now = keep + keep[:1] * (self.min_rows - len(keep))
                cache, attn, _ = self._select(cache, attn, None, rows_now)
                active = [active[j] for j in keep]
                next_tok = [next_tok[j] for j in rows_now]
            tok = torch.tensor(next_tok[: attn.shape[0]], device=dev)[:, None]
            if tok.shape[0] < attn.shape[0]:  # the padding copy of a single row
                tok = tok.repeat(attn.shape[0], 1)
            attn = torch.cat([attn, attn.new_ones((attn.shape[0], 1))], dim=1)
            pos = attn.sum(-1, keepdim=True) - 1
            out = model(input_ids=tok, attention_mask=attn, position_ids=pos, use_cache=True, **{self._cache_kw: cache})
            cache, logits = self._cache_of(out), out.logits[:, -1, :]
        return [finished[p * k : (p + 1) * k] for p in range(len(ids_list))]  # type: ignore[misc]

    def _select(self, cache, attn, logits, rows: list[int]):
        idx = torch.tensor(rows, device=self.device)
        cache.batch_select_indices(idx)
        return cache, attn[idx], None if logits is None else logits[idx]

    def _cache_of(self, out):
        cache = getattr(out, "cache", None)
        return cache if cache is not None else out.past_key_values

    @staticmethod
    def _pick(logits: torch.Tensor, params: SamplingParams, uniforms: torch.Tensor | None) -> torch.Tensor:
        """The next token of each row; sampling rows consume their own uniform draw (inverse CDF), so a
        row's choice never depends on the other rows of the batch."""
        if params.greedy:
            return logits.max(-1).indices  # the first maximum, like argmax, and 2-4x faster on CPU in bf16
        # On the logits' own device: copying rows x 262k logits to the host and taking their top-k there
        # would cost more than the forward pass on a GPU. Candidates are taken from the raw logits (the
        # temperature does not change their order), so only k values per row are scaled.
        uniforms = uniforms.to(logits.device)
        if params.top_k:
            vals, idx = logits.topk(min(params.top_k, logits.shape[-1]), dim=-1)
            probs = (vals.float() / params.temperature).softmax(-1)
            if params.top_p < 1:
                probs = _nucleus(probs, params.top_p)
            return idx.gather(-1, _draw(probs, uniforms)[:, None]).squeeze(-1)
        logits = (
            logits.float().div_(params.temperature) if logits.dtype != torch.float32 else logits / params.temperature
        )
        if params.top_p >= 1:
            return _draw(logits.softmax(-1), uniforms)
        kcand = min(NUCLEUS_CANDIDATES, logits.shape[-1])
        vals, idx = logits.topk(kcand, dim=-1)
        probs = (vals - logits.logsumexp(-1, keepdim=True)).exp()
        short = probs.sum(-1) < params.top_p  # the candidates miss part of the nucleus: sort fully
        probs = _nucleus(probs / probs.sum(-1, keepdim=True).clamp(min=1e-12), params.top_p, renorm_mass=probs)
        out = idx.gather(-1, _draw(probs, uniforms)[:, None]).squeeze(-1)
        if short.any():
            full_vals, full_idx = logits[short].sort(dim=-1, descending=True)
            full = _nucleus(full_vals.softmax(-1), params.top_p)
            out[short] = full_idx.gather(-1, _draw(full, uniforms[short])[:, None]).squeeze(-1)
        return out


def _chunks(items, size: int) -> list[list[tuple[int, int, int]]]:
    """Consecutive work items with one sample count, at most `size` per chunk (the chunked loop)."""
    chunks, cur = [], []
    for it in items:
        if cur and (len(cur) == size or cur[-1][2] != it[2]):
            chunks.append(cur)
            cur = []
        cur.append(it)
    if cur:
        chunks.append(cur)
    return chunks


def _draw(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sampling: row i takes the first index whose cumulative mass exceeds u_i of its total."""
    cdf = probs.double().cumsum(-1)
    target = (uniforms.to(cdf.dtype) * cdf[:, -1])[:, None]
    return torch.searchsorted(cdf, target, right=True).clamp(max=probs.shape[-1] - 1).squeeze(-1)


def _nucleus(probs: torch.Tensor, top_p: float, renorm_mass: torch.Tensor | None = None) -> torch.Tensor:
    """Keep the smallest prefix (probs sorted descending) holding `top_p` of the mass. `renorm_mass`
    gives the true (full-vocabulary) probabilities when `probs` are renormalised over candidates."""
    mass = probs if renorm_mass is None else renorm_mass
    before = mass.cumsum(-1) - mass
    kept = probs.masked_fill(before >= top_p, 0.0)
    return kept / kept.sum(-1, keepdim=True)
