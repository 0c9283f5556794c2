"""Batch-invariant decoding: a row's numbers never depend on the other rows of its batch.

The engine decodes through `slots.py` (continuous batching, a right-padded cache in blocks of 512); this
module holds what both loops share (`MIN_ROWS`) and the previous chunked loop's attention and cache join,
which still decode models the slot layout does not fit and serve as the benchmarks' baseline.

Why: every prompt samples from its own seed so that a resumed run, a Ray shard and a local run give the
same samples. That holds only if a row's logits are bit-for-bit the same whatever else is in its batch. In
bf16 (the default on CPUs with native bf16) any last-bit difference is rounded up into the next layer, and
the samples part after a few tokens: on the tiny test model, 34% of a prompt's samples were the same alone
and in a batch. Three things made a row depend on its neighbours, each measured here (torch 2.13, oneDNN):

1. Prefill with left padding: the prompt's GEMMs ran with M = rows x the batch's widest prompt. Now each
   prompt is prefilled alone, unpadded, and the caches are joined for decoding (`join_caches`).
2. Attention over a padded cache: SDPA's result for a row changes with the amount of masked padding in
   front of it (8 of 24 cases in bf16, 18 of 24 in fp32). Now each decode step attends every group of rows
   that share one valid length over exactly their valid keys, unpadded (`rows_attention`); SDPA's result for
   a row does not depend on how many rows share the call.
3. GEMM kernels chosen by the row count: a linear's row is the same for any M from 2 to 32 (the row's
   position and the other rows' values do not matter), but a single row takes another path. The decode
   loop never runs fewer than `MIN_ROWS` rows (a copy of the last one pads it).

Batches of more than 32 rows choose other kernels again: the engine keeps decode batches at 32 or fewer
rows. What remains is the machine: another CPU or library version may choose its kernels differently.
"""

from __future__ import annotations

import contextlib

import torch

MIN_ROWS = 2
MAX_ROWS = 32


def rows_attention(module, query, key, value, attention_mask, **kwargs):
    """SDPA for one decode step, each run of adjacent rows with one valid length over its valid keys only
    (views, no copies: the n samples of a prompt are adjacent rows). The valid keys of a row are a suffix
    of the cache (left padding, then a sliding window's start). A step without a mask is one run over
    every key, so a prompt decoded alone takes the same call. Prefill, and attention with extras (dropout,
    soft-capping, position bias), goes to transformers' SDPA unchanged."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plain = query.shape[2] == 1 and not kwargs.get("dropout") and kwargs.get("softcap") is None
    runs = _runs(attention_mask, query.shape, key.shape[2]) if plain and "position_bias" not in kwargs else None
    if runs is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    width, scale = key.shape[2], kwargs.get("scaling")
    gqa = query.shape[1] != key.shape[1]
    out = query.new_empty((query.shape[0], query.shape[1], 1, value.shape[-1]))
    for first, end, count in runs:
        keys = slice(width - count, None)
        out[first:end] = torch.nn.functional.scaled_dot_product_attention(
            query[first:end], key[first:end, :, keys], value[first:end, :, keys], scale=scale, enable_gqa=gqa
        )
    return out.transpose(1, 2), None


# (mask, its runs) of this forward: each kind of layer (full, sliding) gets one mask object for all its
# layers. Holding the masks keeps their ids from being reused.
_SEEN: list = []


def _runs(mask, shape, width):
    """[(first row, end row, valid keys)] for a decode step: one run of every row over all keys without a
    mask; None where the mask is not a boolean one per row with each row's valid keys one block at the end
    (the caller then leaves the step to transformers)."""
    if mask is None:
        return [(0, shape[0], width)]
    if mask.dtype != torch.bool or mask.shape[0] != shape[0]:
        return None
    for seen, runs in _SEEN:
        if seen is mask:
            return runs
    valid = mask[:, 0, 0, :]
    counts = valid.sum(-1)
    if not bool((valid.flip(-1).cumprod(-1).sum(-1) == counts).all()):
        runs = None
    else:
        runs, first = [], 0
        counts = counts.tolist()
        for row in range(1, len(counts) + 1):
            if row == len(counts) or counts[row] != counts[first]:
                runs.append((first, row, counts[first]))
                first = row
    _SEEN[:] = [*_SEEN[-1:], (mask, runs)]
    return runs


@contextlib.contextmanager
def decode_attention(model, enabled: bool = True):
    """Route the model's SDPA attention through `rows_attention` while the engine generates. Models on
    another attention implementation are left as they are (and are not batch-invariant)."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    config = getattr(model, "config", None)
    active = enabled and getattr(config, "_attn_implementation", None) == "sdpa"
    if active:
        ALL_ATTENTION_FUNCTIONS["sdpa"] = rows_attention
    try:
        yield active
    finally:
        _SEEN.clear()
        if active:
            del ALL_ATTENTION_FUNCTIONS["sdpa"]


def joinable(cache) -> bool:
    """Whether `join_caches` knows this kind of cache (else the caller prefills as one padded batch)."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    return type(cache) is DynamicCache and all(isinstance(x, DynamicLayer) for x in cache.layers)


def join_caches(config, caches, widths: list[int], repeats: int):
    """One decoding cache for prompts prefilled alone (`joinable` caches): each prompt's keys and values
    repeated for its `repeats` samples and right-aligned at the widest prompt's width (the padding is
    masked out), fed through a fresh cache's own `update` so that sliding-window layers keep what they
    would have kept."""
    from transformers.cache_utils import DynamicCache

    width = max(widths)
    joined = DynamicCache(config=config)
    for layer in range(len(caches[0].layers)):
        keys, values = [], []
        for cache in caches:
            k, v = cache.layers[layer].keys, cache.layers[layer].values
            pad = (0, 0, width - k.shape[-2], 0)  # a sliding layer may hold fewer keys than its prompt
            keys.append(torch.nn.functional.pad(k, pad).repeat_interleave(repeats, 0))
            values.append(torch.nn.functional.pad(v, pad).repeat_interleave(repeats, 0))
        joined.update(torch.cat(keys), torch.cat(values), layer)
    return joined
