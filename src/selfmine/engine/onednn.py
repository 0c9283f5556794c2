"""Linear layers through oneDNN's inner-product kernel while the CPU engine decodes.

Why: at decode time every linear is a skinny GEMM, a few rows against a large weight. On the AMD CPUs this
project runs on, MKL's sgemm (what `F.linear` calls for float32) takes about 200 ms for 8 rows against
gemma-3's 262k-row LM head; oneDNN's kernel takes about 85 ms, near memory bandwidth. The switch changes
only float rounding (checked against `F.linear` once per dtype before use), lasts only while the engine
generates (the model is a plain transformers model at every other moment: training, `model.generate`),
and falls back to `F.linear` wherever the op is missing or refuses (no mkldnn build, bf16 on a CPU
without native bf16, autograd).
"""

from __future__ import annotations

import contextlib
import types

import torch
import torch.nn.functional as F

_checked: dict[torch.dtype, bool] = {}


def _op():
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def available(dtype: torch.dtype) -> bool:
    """Whether the kernel exists here for this dtype and agrees with F.linear on a random layer."""
    if dtype not in _checked:
        ok = False
        op = _op()
        if op is not None and torch.backends.mkldnn.is_available():
            g = torch.Generator().manual_seed(0)
            x, w, b = (torch.randn(*s, generator=g).to(dtype) for s in ((3, 2, 64), (48, 64), (48,)))
            try:
                with torch.inference_mode():
                    got = op(x, w, b, "none", [], "")
                    want = F.linear(x, w, b)
                tol = 1e-4 if dtype == torch.float32 else 3e-2
                ok = got.shape == want.shape and torch.allclose(got.float(), want.float(), rtol=tol, atol=tol)
            except RuntimeError:
                ok = False
        _checked[dtype] = ok
    return _checked[dtype]


def _forward(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() or x.dtype != self.weight.dtype or x.device.type != "cpu":
        return F.linear(x, self.weight, self.bias)
    return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


@contextlib.contextmanager
def linears(model: torch.nn.Module, enabled: bool = True):
    """Route the model's `nn.Linear` layers (LoRA's wrapped base layers included) through oneDNN for the
    duration of the block, when it is available for the model's dtype on CPU."""
    mods = []
    if enabled:
        mods = [
            layer
            for layer in model.modules()
            if type(layer) is torch.nn.Linear and layer.weight.device.type == "cpu" and available(layer.weight.dtype)
        ]
    for layer in mods:
        layer.forward = types.MethodType(_forward, layer)
    try:
        yield len(mods)
    finally:
        for layer in mods:
            layer.__dict__.pop("forward", None)
