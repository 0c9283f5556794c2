"""Continuous batching over a slot cache: the `hf` engine's decoding loop.

Why: on a small CPU a decode step costs about the same for 4 rows as for 32, because it is bound by reading
the weights (a 0.5B model streams 1 GB per step). Decoding prompts in fixed chunks wastes most steps: the
rows of a chunk stop after a few dozen tokens (stop strings) while the longest runs on alone. Here every
row is a slot; a slot whose sequence ends takes the next prompt at once, so steps stay full until the queue
is empty (measured in `benchmarks/generation_throughput.py`).

Batch invariance (a row's numbers never depend on the other rows; `invariant.py` says why it matters) comes
from the layout, measured on torch 2.13 with oneDNN, bf16 and fp32:
- each slot holds its tokens from column 0 (right padding) in a buffer whose width is a multiple of
  `BLOCK`, SDPA's key block on CPU: with a boolean key mask, a row's attention output is then the same for
  any buffer width and any rows beside it (left padding, or widths off the block, change its last bits);
- a prompt is prefilled alone, unpadded, and its keys copied into its slots;
- a decode step never runs fewer than `MIN_ROWS` rows nor, as the engine is configured, more than 32.
Every decode step is one SDPA call per layer for all rows, and writing a token is an in-place store, not a
concatenation of the whole cache.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .invariant import MIN_ROWS
from .records import Completion, SamplingParams, cut_at_stop

BLOCK = 512


class Unsupported(Exception):
    """The model or its cache does not fit the slot layout (the engine decodes in chunks instead)."""


def supported(model, cache) -> bool:
    """Whether a prompt's prefill cache and the model's attention fit the slot layout: transformers' SDPA
    attention, plain or sliding-window layers, no logit soft-capping."""
    config = model.config
    return (
        getattr(config, "_attn_implementation", None) == "sdpa"
        and getattr(config, "attn_logit_softcapping", None) is None
        and type(cache) is DynamicCache
        and all(isinstance(x, DynamicLayer) for x in cache.layers)
    )


class SlotLayer(DynamicLayer):
    """One layer's keys and values for every slot, [slots, heads, width, dim]. `update` stores each
    row's new token at that row's own column and returns the whole buffer (the mask picks the keys)."""

    def __init__(self, owner, window: int | None):
        super().__init__()
        self.owner, self.sliding_window, self.is_sliding = owner, window, window is not None

    def update(self, key_states, value_states, *args, **kwargs):
        rows, cols = self.owner.rows_index, self.owner.cols
        self.keys[rows, :, cols] = key_states[:, :, 0]
        self.values[rows, :, cols] = value_states[:, :, 0]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.owner.width

    def get_mask_sizes(self, *args, **kwargs) -> tuple[int, int]:
        return self.owner.width, 0


class SlotCache(DynamicCache):
    """The decode cache of all slots (see the module docstring). `lengths[r]` tokens of slot r are
    stored; the next token of slot r goes to column `lengths[r]`."""

    def __init__(self, config, like, rows: int, width: int):
        super().__init__(config=config)
        windows = [getattr(x, "sliding_window", None) if x.is_sliding else None for x in like.layers]
        self.layers = [SlotLayer(self, w) for w in windows]
        self.width = 0
        self.lengths = [0] * rows
        self._allocate(like, rows, _round_up(width))

    def _allocate(self, like, rows: int, width: int) -> None:
        for layer, src in zip(self.layers, like.layers):
            h, d = src.keys.shape[1], src.keys.shape[3]
            old = (layer.keys, layer.values) if layer.is_initialized else None
            layer.keys = src.keys.new_zeros((rows, h, width, d))
            layer.values = src.values.new_zeros((rows, h, width, src.values.shape[3]))
            if old is not None:
                layer.keys[:, :, : self.width] = old[0]
                layer.values[:, :, : self.width] = old[1]
            layer.is_initialized, layer.device = True, layer.keys.device
        self.width = width

    def ensure(self, columns: int) -> None:
        """Room for `columns` tokens in every slot (widths stay multiples of BLOCK)."""
        if columns > self.width:
            self._allocate(self, len(self.lengths), _round_up(columns))

    def place(self, slots: list[int], prompt_cache, length: int) -> None:
        """Copy a prompt's prefilled keys into `slots`: token t at column t (a sliding layer's cache
        holds only its last window - 1 tokens; the columns before them are masked anyway)."""
        self.ensure(length + 1)
        idx = torch.tensor(slots, device=self.layers[0].keys.device)
        for layer, src in zip(self.layers, prompt_cache.layers):
            held = src.keys.shape[2]
            layer.keys[idx, :, length - held : length] = src.keys[0]
            layer.values[idx, :, length - held : length] = src.values[0]
        for s in slots:
            self.lengths[s] = length

    def keep(self, slots: list[int]) -> None:
        """Only these slots, in this order, from now on."""
        idx = torch.tensor(slots, device=self.layers[0].keys.device)
        for layer in self.layers:
            layer.keys, layer.values = layer.keys[idx], layer.values[idx]
        self.lengths = [self.lengths[s] for s in slots]

    def begin_step(self) -> None:
        """Columns to write this step and the key masks (per window size) that attention reads."""
        dev = self.layers[0].keys.device
        self.cols = torch.tensor(self.lengths, device=dev)
        self.rows_index = torch.arange(len(self.lengths), device=dev)
        span = torch.arange(self.width, device=dev)[None, :]
        pos = self.cols[:, None]
        self.masks = {None: (span <= pos)[:, None, None, :]}
        for window in {x.sliding_window for x in self.layers if x.is_sliding}:
            self.masks[window] = ((span <= pos) & (span > pos - window))[:, None, None, :]


def _round_up(columns: int) -> int:
    return max(BLOCK, -(-columns // BLOCK) * BLOCK)


_ACTIVE: list = []  # the SlotCache of the forward pass now running (attention reads its masks)


def slot_attention(module, query, key, value, attention_mask, **kwargs):
    """One SDPA call for all slots of a decode step, each row over its own keys (the cache's masks);
    anything else (prefill) goes to transformers' SDPA unchanged."""
    cache = _ACTIVE[-1] if _ACTIVE else None
    if cache is None or query.shape[2] != 1 or key.shape[0] != len(cache.lengths) or key.shape[2] != cache.width:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    window = kwargs.get("sliding_window") or getattr(module, "sliding_window", None)
    mask = cache.masks[window if window in cache.masks else None]
    return grouped_attention(query, key, value, mask, scale=kwargs.get("scaling")).transpose(1, 2), None


def grouped_attention(query, key, value, mask, *, scale):
    """One decode step's attention, [rows, heads, 1, dim], with the query heads that share a key head
    stacked as that head's queries: [rows, kv heads, group, dim]. The same sums as expanding the keys to
    every query head (`enable_gqa`), without copying them: on CPU, SDPA's fused kernel takes no
    `enable_gqa`, and its fallback copies each key head `group` times (`benchmarks/decode_attention.py`).
    Each row still reads only its own keys under its own mask, so batch invariance is kept (a test checks
    it bit for bit). Not bit-identical to `enable_gqa`: results record `attention: grouped`."""
    rows, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    out = torch.nn.functional.scaled_dot_product_attention(
        query.reshape(rows, kv_heads, heads // kv_heads, dim), key, value, attn_mask=mask, scale=scale
    )
    return out.reshape(rows, heads, 1, dim)


@dataclass
class Row:
    """One sequence being decoded (both loops keep one per row)."""

    prompt: int
    sample: int
    rng: random.Random
    prompt_tokens: int
    generated: list[int] = field(default_factory=list)
    checked: int = 0


def ended(engine, row: Row, t: int, params: SamplingParams, max_stop: int) -> Completion | None:
    """Append token `t` to `row`; its Completion if that ends it (end token, stop string, length)."""
    decode = engine.tokenizer.decode
    if t in engine.eos_ids:
        return Completion(
            decode(row.generated, skip_special_tokens=True), "stop", row.prompt_tokens, len(row.generated) + 1
        )
    row.generated.append(t)
    if params.stop:
        text = decode(row.generated, skip_special_tokens=True)
        hit = cut_at_stop(text, params.stop, max(0, row.checked - max_stop + 1))
        row.checked = len(text)
        if hit:
            return Completion(hit[0], "stop", row.prompt_tokens, len(row.generated), stop_string=hit[1])
    if len(row.generated) >= params.max_tokens:
        return Completion(
            decode(row.generated, skip_special_tokens=True), "length", row.prompt_tokens, len(row.generated)
        )
    return None


class SlotDecoder:
    """Decodes work items (prompt index, first sample, sample count) through `slots` rows, admitting an
    item as soon as it has free slots for all its samples. `finish(row, completion)` receives each
    sequence as it ends."""

    def __init__(self, engine, model, encoded, params: SamplingParams, rng_of, finish):
        self.engine, self.model, self.encoded, self.params = engine, model, encoded, params
        self.rng_of, self.finish = rng_of, finish
        self.max_stop = max((len(s) for s in params.stop), default=0)

    def run(self, items: list[tuple[int, int, int]], slots: int) -> None:
        queue = deque(items)
        rows: list[Row | None] = [None] * max(MIN_ROWS, min(slots, sum(k for _, _, k in items)))
        self.cache, self.logits = None, None
        ALL_ATTENTION_FUNCTIONS["sdpa"] = slot_attention
        try:
            while queue or any(rows):
                self._admit(queue, rows)
                tokens = self._pick(rows)
                if not any(rows):
                    continue
                if not queue:
                    rows, tokens = self._compact(rows, tokens)
                self._step(rows, tokens)
        finally:
            del ALL_ATTENTION_FUNCTIONS["sdpa"]
            self.cache = self.logits = None

    def _admit(self, queue, rows) -> None:
        while queue:
            free = [s for s, r in enumerate(rows) if r is None]
            prompt, first, k = queue[0]
            if len(free) < k:
                return
            queue.popleft()
            ids = self.encoded[prompt]
            dev = self.engine.device
            out = self.model(input_ids=torch.tensor([ids], device=dev), use_cache=True, logits_to_keep=1)
            prefill = self.engine._cache_of(out)
            if self.cache is None:
                if not supported(self.model, prefill):
                    raise Unsupported

                self.cache = SlotCache(self.model.config, prefill, len(rows), len(ids) + 1)
                self.logits = out.logits.new_zeros((len(rows), out.logits.shape[-1]))
            self.cache.place(free[:k], prefill, len(ids))
            self.logits[free[:k]] = out.logits[0, -1]
            for j, s in enumerate(free[:k]):
                rows[s] = Row(prompt, first + j, self.rng_of(prompt, first + j), len(ids))

    def _pick(self, rows) -> list[int]:
        """Each live row's next token; rows that end are handed to `finish` and their slots freed."""
        live = [s for s, r in enumerate(rows) if r is not None]
        tokens = [self.engine.pad_id] * len(rows)
        if not live:
            return tokens
        p = self.params
        uniforms = None if p.greedy else torch.tensor([rows[s].rng.random() for s in live], dtype=torch.float64)
        logits = (
            self.logits
            if len(live) == len(rows)
            else self.logits.index_select(0, torch.tensor(live, device=self.logits.device))
        )
        picked = self.engine._pick(logits, p, uniforms).tolist()
        for s, t in zip(live, picked):
            row = rows[s]
            done = ended(self.engine, row, t, self.params, self.max_stop)
            if done is not None:
                self.finish(row, done)
                rows[s] = None
            else:
                tokens[s] = t
        return tokens

    def _compact(self, rows, tokens):
        """With nothing left to admit, free slots stop costing compute (at least MIN_ROWS stay)."""
        live = [s for s, r in enumerate(rows) if r is not None]
        if len(live) == len(rows) or len(rows) <= MIN_ROWS:
            return rows, tokens
        keep = live + [s for s, r in enumerate(rows) if r is None][: max(0, MIN_ROWS - len(live))]
        self.cache.keep(keep)
        self.logits = self.logits[keep]
        return [rows[s] for s in keep], [tokens[s] for s in keep]

    def _step(self, rows, tokens) -> None:
        """One forward pass of every slot: a live row feeds its token at its next column; a free slot
        feeds padding at column 0 (its output is never read)."""
        cache = self.cache
        for s, r in enumerate(rows):
            if r is None:
                cache.lengths[s] = 0
        cache.ensure(max(cache.lengths) + 1)
        cache.begin_step()
        dev = self.engine.device
        ids = torch.tensor(tokens, device=dev)[:, None]
        pos = cache.cols[:, None]
        _ACTIVE.append(cache)
        try:
            out = self.model(input_ids=ids, position_ids=pos, use_cache=True, **{self.engine._cache_kw: cache})
        finally:
            _ACTIVE.pop()
        self.logits = out.logits[:, -1, :]
        for s, r in enumerate(rows):
            if r is not None:
                cache.lengths[s] += 1
