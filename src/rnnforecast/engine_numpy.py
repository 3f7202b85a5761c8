"""Inference in numpy for every model `model.Forecaster` can build, from the same weights.

`predict` needs no torch import, which costs ~2 s: a cron job forecasting a few series is done
before torch would have loaded. Gate order and formulas follow torch.nn.RNN/LSTM/GRU exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnforecast.config import ModelConfig
from rnnforecast.windows import WINDOW_STD_FLOOR

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default
BLOCK = 1024  # series per forward pass: ~80 MB of gate inputs at lookback 72, hidden 64


def make(
    cfg: ModelConfig, weights: dict[str, np.ndarray]
) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """A function mapping inputs [B, L, F] (and, for a model with future covariates, their
    horizon values [B, H, C]) to forecasts [B, H], like `Forecaster.forward`."""
    step = {"rnn": _rnn_layer, "lstm": _lstm_layer, "gru": _gru_layer}[cfg.cell]
    layers = [
        {
            k.split(".")[-1].removesuffix("_l0"): v
            for k, v in weights.items()
            if k.startswith(f"rnns.{i}.")
        }
        for i in range(cfg.layers)
    ]
    norms = [
        (weights[f"norms.{i}.weight"], weights[f"norms.{i}.bias"]) if cfg.layer_norm else None
        for i in range(cfg.layers)
    ]
    head_w, head_b = weights["head.weight"], weights["head.bias"]
    skip = (weights["skip.weight"], weights["skip.bias"]) if cfg.skip == "linear" else None
    future_w = weights.get("future.weight")  # [H, H * C] or None

    def forward(x: np.ndarray, future: np.ndarray | None) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if cfg.window_norm:
            target = x[..., :1]  # [B, L, 1]
            loc = target.mean(axis=1, keepdims=True)  # [B, 1, 1]
            scale = target.std(axis=1, keepdims=True)  # [B, 1, 1]
            scale = np.where(scale > WINDOW_STD_FLOOR, scale, np.float32(1.0))
            x = np.concatenate([(target - loc) / scale, x[..., 1:]], axis=-1)  # [B, L, F]
        h = x
        for i, (w, norm) in enumerate(zip(layers, norms, strict=True)):
            out = step(h, w, cfg.activation)  # [B, L, hidden]
            if norm is not None:
                out = _layer_norm(out, *norm)  # [B, L, hidden]
            h = out + h if cfg.residual and i > 0 else out
        y = h[:, -1] @ head_w.T + head_b  # [B, H]
        if skip is not None:
            # [B, H]; einsum, not BLAS, sums each row alike whatever the batch: chunked and
            # whole predictions stay byte-identical
            y = y + np.einsum("bl,hl->bh", x[..., 0], skip[0]) + skip[1]
        if future_w is not None:
            flat = np.asarray(future, dtype=np.float32).reshape(len(x), -1)  # [B, H * C]
            y = y + np.einsum("bk,hk->bh", flat, future_w)  # [B, H]
        if cfg.window_norm:
            y = y * scale[:, :, 0] + loc[:, :, 0]
        return y

    def blocked(x: np.ndarray, future: np.ndarray | None = None) -> np.ndarray:
        """Series in blocks, so memory stays bounded (a layer holds [block, L, gates])."""
        if future_w is not None and future is None:
            raise ValueError("this model has future covariates: pass their horizon values")
        parts = [
            forward(x[b : b + BLOCK], None if future is None else future[b : b + BLOCK])
            for b in range(0, len(x), BLOCK)
        ]
        return np.concatenate(parts) if parts else np.empty((0, head_b.shape[0]), np.float32)

    return blocked


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """torch.nn.LayerNorm over the last axis: biased variance, eps 1e-5 inside the root."""
    mean = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + np.float32(LAYER_NORM_EPS)) * weight + bias


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free form of 1 / (1 + exp(-x))


def _input_part(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """x @ W_ih^T + b_ih for all time steps in one matmul: [B, L, G*hidden]."""
    return x @ w["weight_ih"].T + w["bias_ih"]


def _rnn_layer(x: np.ndarray, w: dict[str, np.ndarray], activation: str) -> np.ndarray:
    act = np.tanh if activation == "tanh" else (lambda v: np.maximum(v, 0.0))
    xi = _input_part(x, w)
    w_hh, b_hh = w["weight_hh"].T, w["bias_hh"]
    h = np.zeros((x.shape[0], w_hh.shape[0]), dtype=x.dtype)
    out = np.empty((x.shape[0], x.shape[1], w_hh.shape[0]), dtype=x.dtype)
    for t in range(x.shape[1]):
        h = act(xi[:, t] + h @ w_hh + b_hh)
        out[:, t] = h
    return out


def _lstm_layer(x: np.ndarray, w: dict[str, np.ndarray], activation: str) -> np.ndarray:
    xi = _input_part(x, w)
    w_hh, b_hh = w["weight_hh"].T, w["bias_hh"]
    n = w_hh.shape[0]
    h = np.zeros((x.shape[0], n), dtype=x.dtype)
    c = np.zeros_like(h)
    out = np.empty((x.shape[0], x.shape[1], n), dtype=x.dtype)
    for t in range(x.shape[1]):
        gates = xi[:, t] + h @ w_hh + b_hh  # [B, 4n]: input, forget, cell, output
        i, f = _sigmoid(gates[:, :n]), _sigmoid(gates[:, n : 2 * n])
        g, o = np.tanh(gates[:, 2 * n : 3 * n]), _sigmoid(gates[:, 3 * n :])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[:, t] = h
    return out


def _gru_layer(x: np.ndarray, w: dict[str, np.ndarray], activation: str) -> np.ndarray:
    xi = _input_part(x, w)
    w_hh, b_hh = w["weight_hh"].T, w["bias_hh"]
    n = w_hh.shape[0]
    h = np.zeros((x.shape[0], n), dtype=x.dtype)
    out = np.empty((x.shape[0], x.shape[1], n), dtype=x.dtype)
    for t in range(x.shape[1]):
        hh = h @ w_hh + b_hh  # [B, 3n]: reset, update, new
        r = _sigmoid(xi[:, t, :n] + hh[:, :n])
        z = _sigmoid(xi[:, t, n : 2 * n] + hh[:, n : 2 * n])
        cand = np.tanh(xi[:, t, 2 * n :] + r * hh[:, 2 * n :])
        h = (1.0 - z) * cand + z * h
        out[:, t] = h
    return out
