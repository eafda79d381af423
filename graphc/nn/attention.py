"""Attention: F.scaled_dot_product_attention and nn.MultiheadAttention, with PyTorch's
parameters (in_proj_weight / q_proj_weight..., out_proj), masks and results.

Masks follow PyTorch's two conventions: for scaled_dot_product_attention a boolean mask is
True where attention is *allowed*; for MultiheadAttention boolean attn_mask and
key_padding_mask are True where it is *not*. Float masks are added to the scores.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as G
from ..eager.creation import empty
from ..errors import UnsupportedError
from . import functional as F, init
from .linear import Linear
from .module import Module
from .parameter import Parameter
from .constants import on_device_of


def _is_bool(mask):
    return mask is not None and mask.dtype.is_bool


def _safe_softmax(scores):
    """Softmax over the last dim; a row with every score -inf gives zeros (PyTorch's
    _safe_softmax), with finite gradients."""
    dead = G.eq(G.amax(scores, -1, keepdim=True), -math.inf)
    out = G.softmax(G.where(dead, 0.0, scores), -1)
    return G.where(dead, 0.0, out)


def _dropout(x, p, module):
    # (graphc.compile advances the shared random counter of every dropout site itself)
    return F.dropout(x, p, True)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, *,
                                 _module=None):
    """softmax(q k^T * scale + mask) v over the last two dims; (..., L, E) x (..., S, E)."""
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if heads % kv_heads:
            raise ValueError(f"scaled_dot_product_attention: {heads} query heads are not a "
                             f"multiple of {kv_heads} key/value heads")
        rep = np.repeat(np.arange(kv_heads), heads // kv_heads)
        key = G.getitem(key, (Ellipsis, rep, slice(None), slice(None)))
        value = G.getitem(value, (Ellipsis, rep, slice(None), slice(None)))
    scores = G.mul(G.matmul(query, G.transpose(key, -2, -1)), scale)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give either attn_mask or "
                             "is_causal, not both")
        attn_mask = on_device_of(query, np.tril(np.ones((L, S), bool)))
        scores = G.where(attn_mask, scores, -math.inf)
    elif attn_mask is not None:
        if isinstance(attn_mask, np.ndarray) and attn_mask.dtype == bool or _is_bool(attn_mask):
            scores = G.where(attn_mask, scores, -math.inf)
        else:
            scores = G.add(scores, attn_mask)
    weights = _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, _module)
    return G.matmul(weights, value)


def _float_mask(mask, dtype):
    """PyTorch's _canonical_mask: a boolean mask (True = masked) -> 0 / -inf."""
    if mask is None:
        return None
    if _is_bool(mask):
        return G.cast(G.where(mask, -math.inf, 0.0), dtype)
    if not mask.dtype.is_floating_point:
        raise TypeError(f"only bool and floating types of masks are supported, got "
                        f"{mask.dtype.name}")
    return mask


class NonDynamicallyQuantizableLinear(Linear):
    """The out_proj of MultiheadAttention (PyTorch's class name, for repr and checkpoints)."""


class MultiheadAttention(Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError("embed_dim must be divisible by num_heads")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), dtype=dtype))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty((3 * embed_dim,), dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), dtype=dtype))
            self.bias_v = Parameter(empty((1, 1, embed_dim), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()
        self._place(device)

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _projections(self, query, key, value):
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                               "the Transformer module method `generate_square_subsequent_mask` "
                               "to create this mask.")
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (G.unsqueeze(t, 1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = G.unsqueeze(key_padding_mask, 0)
        elif self.batch_first:
            query, key, value = (G.transpose(t, 0, 1) for t in (query, key, value))
        out, weights = self._attend(query, key, value, key_padding_mask, need_weights,
                                    attn_mask, average_attn_weights)
        if unbatched:
            out = G.squeeze(out, 1)
            weights = None if weights is None else G.squeeze(weights, 0)
        elif self.batch_first:
            out = G.transpose(out, 0, 1)
        return out, weights

    def _attend(self, query, key, value, key_padding_mask, need_weights, attn_mask,
                average_attn_weights):
        """PyTorch's multi_head_attention_forward on (L, N, E) inputs."""
        tgt_len, bsz, E = query.shape
        H, hd = self.num_heads, self.head_dim
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: was expecting embedding dimension of "
                             f"{self.embed_dim}, but got {E}")
        q, k, v = self._projections(query, key, value)
        attn_mask = _float_mask(attn_mask, q.dtype)
        key_padding_mask = _float_mask(key_padding_mask, q.dtype)
        if attn_mask is not None and attn_mask.ndim == 2:
            attn_mask = G.unsqueeze(attn_mask, 0)
        if self.bias_k is not None:
            k = G.cat([k, G.broadcast_to(self.bias_k, (1, bsz, E))], 0)
            v = G.cat([v, G.broadcast_to(self.bias_v, (1, bsz, E))], 0)
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None \
                else F.pad(key_padding_mask, (0, 1))
        # (L, N, E) -> (N * H, L, hd)
        q = G.transpose(G.reshape(q, (tgt_len, -1, hd)), 0, 1)
        k = G.transpose(G.reshape(k, (k.shape[0], -1, hd)), 0, 1)
        v = G.transpose(G.reshape(v, (v.shape[0], -1, hd)), 0, 1)
        if self.add_zero_attn:
            zeros = G.full_like(k[:, :1], 0.0)
            k, v = G.cat([k, zeros], 1), G.cat([v, zeros], 1)
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None \
                else F.pad(key_padding_mask, (0, 1))
        src_len = k.shape[1]
        if key_padding_mask is not None:
            kpm = G.reshape(G.broadcast_to(G.reshape(key_padding_mask, (-1, 1, 1, src_len)),
                                           (key_padding_mask.shape[0], H, 1, src_len)),
                            (-1, 1, src_len))
            attn_mask = kpm if attn_mask is None else G.add(attn_mask, kpm)
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            scores = G.matmul(G.mul(q, math.sqrt(1.0 / float(hd))), G.transpose(k, -2, -1))
            if attn_mask is not None:
                scores = G.add(attn_mask, scores)
            weights = G.softmax(scores, -1)  # (a fully masked row is nan, as PyTorch's here)
            if dropout_p > 0.0:
                weights = _dropout(weights, dropout_p, self)
            out = G.matmul(weights, v)
            out = G.reshape(G.transpose(out, 0, 1), (-1, E))
            out = G.reshape(self.out_proj(out), (tgt_len, -1, E))
            weights = G.reshape(weights, (-1, H, tgt_len, src_len))
            if average_attn_weights:
                weights = G.mean(weights, 1)
            return out, weights
        if attn_mask is not None:
            if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
                attn_mask = G.unsqueeze(attn_mask, 0)
            else:
                attn_mask = G.reshape(attn_mask, (-1, H, tgt_len, src_len))
        q4 = G.reshape(q, (-1, H, tgt_len, hd))
        k4 = G.reshape(k, (-1, H, src_len, hd))
        v4 = G.reshape(v, (-1, H, src_len, hd))
        out = scaled_dot_product_attention(q4, k4, v4, attn_mask, dropout_p, _module=self)
        out = G.reshape(G.permute(out, 2, 0, 1, 3), (-1, E))
        return G.reshape(self.out_proj(out), (tgt_len, -1, E)), None


def multi_head_attention_forward(*args, **kwargs):
    raise UnsupportedError("F.multi_head_attention_forward is not supported; use "
                           "nn.MultiheadAttention")
