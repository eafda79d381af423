"""Import converter for ONNX's Attention (opset 23): scaled dot-product attention with masks,
causal masking, a key/value cache, grouped-query heads and softcap, as graphc matmuls and a
softmax (so it differentiates and compiles like any composite)."""
from __future__ import annotations

import numpy as np

import graphc as gc
from .common import dtype_from_onnx
from .import_ops import _known, converts
from .import_shapes import pad_axis


def _heads_first(ctx, x, heads, what):
    """(B, S, heads * E) -> (B, heads, S, E)."""
    if heads is None:
        raise ctx.unsupported(f"3-D {what} without q_num_heads/kv_num_heads")
    b, s, hidden = x.shape
    return gc.permute(gc.reshape(x, (b, s, heads, hidden // heads)), (0, 2, 1, 3))


def _repeat_heads(x, reps):
    """Each head repeated `reps` times in place: [h0, h0, h1, h1, ...]."""
    b, h, t, e = x.shape
    return gc.reshape(gc.broadcast_to(gc.unsqueeze(x, 2), (b, h, reps, t, e)), (b, h * reps, t, e))


def _mask_bias(ctx, mask, kv_len, dtype):
    """An additive bias from a boolean (True: attend) or float mask, padded to kv_len."""
    short = kv_len - mask.shape[-1]
    if short > 0:
        value = False if mask.dtype.is_bool else -np.inf
        mask = pad_axis(ctx, mask, mask.ndim - 1, 0, short, value=value)
    if mask.dtype.is_bool:
        return gc.where(mask, gc.tensor(np.zeros((), dtype.np)),
                        gc.tensor(np.full((), -np.inf, dtype.np)))
    return mask


@converts("Attention")
def _attention(ctx):
    q, k, v = ctx.input(0), ctx.input(1), ctx.input(2)
    mask, past_k, past_v = ctx.input(3), ctx.input(4), ctx.input(5)
    nonpad = ctx.input(6) if ctx.num_inputs > 6 else None
    if not all(_known(t.shape) for t in (q, k, v)):
        raise ctx.unsupported("Attention with symbolic shapes")
    three_d = q.ndim == 3
    if three_d:
        q = _heads_first(ctx, q, ctx.attr("q_num_heads"), "Q")
        k = _heads_first(ctx, k, ctx.attr("kv_num_heads"), "K")
        v = _heads_first(ctx, v, ctx.attr("kv_num_heads"), "V")
    scale = ctx.attr("scale", 1.0 / np.sqrt(q.shape[3]))
    present_k = k if past_k is None else gc.cat([past_k, k], 2)
    present_v = v if past_v is None else gc.cat([past_v, v], 2)
    q_len, kv_len = q.shape[2], present_k.shape[2]
    dtype = q.dtype

    bias = None if mask is None else _mask_bias(ctx, mask, kv_len, dtype)
    if ctx.attr("is_causal", 0):
        past = past_k.shape[2] if past_k is not None else 0
        causal = np.zeros((q_len, kv_len), dtype.np)
        causal[:, past:] = np.where(np.triu(np.ones((q_len, kv_len - past)), 1) == 1,
                                    -np.inf, 0)
        bias = gc.tensor(causal) if bias is None else bias + causal
    if nonpad is not None:
        b = q.shape[0]
        keep = gc.lt(np.arange(kv_len, dtype=np.int64), gc.unsqueeze(gc.cast(nonpad, gc.int64), 1))
        pad_bias = gc.reshape(gc.where(keep, gc.tensor(np.zeros((), dtype.np)),
                                       gc.tensor(np.full((), -np.inf, dtype.np))),
                              (b, 1, 1, kv_len))
        bias = pad_bias if bias is None else bias + pad_bias

    heads, kv_heads = q.shape[1], present_k.shape[1]
    keys, values = present_k, present_v
    if heads != kv_heads and heads % kv_heads == 0:
        keys, values = _repeat_heads(keys, heads // kv_heads), _repeat_heads(values,
                                                                            heads // kv_heads)
    root = float(np.sqrt(scale))
    qk = gc.matmul(q * root, gc.transpose(keys * root, 2, 3))
    softcap = ctx.attr("softcap", 0.0)
    if softcap > 0:
        qk = gc.tanh(qk / softcap) * softcap
    with_bias = qk if bias is None else qk + bias
    mode = ctx.attr("qk_matmul_output_mode", 0)
    work = dtype
    if "softmax_precision" in ctx.attrs:
        work = dtype_from_onnx(ctx.attr("softmax_precision"), ctx.where)
    probs = gc.softmax(gc.cast(with_bias, work), -1)
    y = gc.cast(gc.matmul(probs, gc.cast(values, work)), dtype)
    if three_d:
        y = gc.permute(y, (0, 2, 1, 3))
        y = gc.reshape(y, (y.shape[0], y.shape[1], -1))
    qk_out = {0: qk, 1: qk, 2: with_bias, 3: probs}.get(mode)
    if qk_out is None:
        raise ctx.unsupported(f"qk_matmul_output_mode={mode}")
    return [y, present_k, present_v, gc.cast(qk_out, dtype)][:ctx.num_outputs]
