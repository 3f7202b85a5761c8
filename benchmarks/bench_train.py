"""Training throughput: rnnforecast's epoch loop against the bare network on the same data.

    python benchmarks/bench_train.py --data DATA/taylor.csv [--batch-sizes 128,512]
                                     [--cells rnn,lstm,gru] [--sizes default,large]

For each cell at the default size and a larger one, in one run:
  (a) bare: torch.nn.RNN/LSTM/GRU (stacked) + linear head + L1 loss + backward + clip + Adam
      over windows pre-made as one tensor in memory, in order, no validation;
  (b) real: rnnforecast's `train.fit` on the same dataset and model size (shuffled index
      batches gathered from one tensor, window normalisation, validation, progress callback).
Prints windows/s of both and (b)/(a): at the default size the median of 3 alternated pairs
(and their range; on a shared 2-core machine one pair swung by +-0.2), at the large size one
pair (seconds each). Target: (b)/(a) >= 0.9 at batch sizes >= 128.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnforecast import data, defaults, train
from rnnforecast.config import Config
from rnnforecast.model import Forecaster
from rnnforecast.panel import Panel
from rnnforecast.windows import apply_scaler, fit_scaler, gather, split_windows

SIZES = {"default": (1, 16), "large": (2, 256)}  # layers, hidden units
EPOCHS = 3  # at least this many timed epochs, after one warm-up epoch
ROUNDS = 3  # default-size cells: bare and ours alternated 3 times, the median ratio printed
MIN_SECONDS = 2.0  # and more, until the bare loop has run this long: small cells take ~0.1 s
# an epoch, where timer noise alone moved the ratio by 0.15 between runs


class Bare(nn.Module):
    """The bare network: one stacked PyTorch recurrent module and a linear head."""

    def __init__(self, cell: str, inputs: int, hidden: int, layers: int, horizon: int) -> None:
        super().__init__()
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
            inputs, hidden, num_layers=layers, batch_first=True
        )
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # [B, T, hidden]
        return self.head(out[:, -1])  # [B, H]


def bare_rate(cell, hidden, layers, x, y, batch_size) -> tuple[float, int]:
    """Windows per second of the bare loop over pre-made tensors x [W, T, F], y [W, H], and
    the epochs it took to fill MIN_SECONDS (ours then runs as many)."""
    model = Bare(cell, x.shape[-1], hidden, layers, y.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def epoch() -> None:
        for b in range(0, len(x), batch_size):
            loss = nn.functional.l1_loss(model(x[b : b + batch_size]), y[b : b + batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    epoch()  # warm-up
    started = time.perf_counter()
    epochs = 0
    while epochs < EPOCHS or time.perf_counter() - started < MIN_SECONDS:
        epoch()
        epochs += 1
    return epochs * len(x) / (time.perf_counter() - started), epochs


def real_rate(cfg: Config, values: np.ndarray, split, epochs: int) -> float:
    """Windows per second of rnnforecast's training loop, from its per-epoch seconds."""
    w = cfg.window
    model = Forecaster(cfg.model, w.lookback, w.horizon, season=cfg.data.season)
    # an epoch of exactly every training window, as the bare loop runs
    n = len(split.train_starts)
    cfg = cfg.with_overrides({"epochs": epochs + 1, "patience": epochs + 1, "epoch_size": n})
    lines = []  # the per-epoch log line a cron run prints, formatted and kept
    with train.flush_denormals():
        history = train.fit(
            model, values, split.train_starts, split.val_starts, w.lookback, cfg.train,
            on_epoch=lambda row: lines.append(f"epoch {row['epoch']} {row['train_loss']:.4f}"),
        )  # fmt: skip
    seconds = sum(row["seconds"] for row in history.rows[1:])  # the first epoch warms up
    return epochs * len(split.train_starts) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, required=True, help="the CSV to train on (published figures: taylor)"
    )
    ap.add_argument("--batch-sizes", default="128,512")
    ap.add_argument("--cells", default="rnn,lstm,gru", help="e.g. rnn, to re-run one cell")
    ap.add_argument("--sizes", default=",".join(SIZES), help="default, large or both")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    base = Config()
    loaded = data.load(args.data, base.data)
    panel = Panel.from_frame(loaded.frame)
    base = defaults.resolve(base, loaded.schema, panel)
    w = base.window
    split = split_windows(panel, w.lookback, w.horizon, w.val_size)
    loc, scale = fit_scaler(panel, split.n_fit, w.scaler)
    values = apply_scaler(panel, loc, scale)
    starts = np.asarray(split.train_starts)
    windows = torch.from_numpy(gather(values, starts, w.lookback + w.horizon))
    y = windows[:, w.lookback :].contiguous()
    print(f"{args.data.name}: {len(split.train_starts)} training windows, lookback {w.lookback}, "
          f"horizon {w.horizon}, torch threads {torch.get_num_threads()}")  # fmt: skip
    print(
        f"{'cell':<5} {'size':<8} {'batch':>5} {'bare w/s':>10} {'ours w/s':>10} {'ours/bare':>9}"
    )
    for cell in args.cells.split(","):
        for size in args.sizes.split(","):
            layers, hidden = SIZES[size]
            for batch_size in map(int, args.batch_sizes.split(",")):
                cfg = base.with_overrides(
                    {
                        "cell": cell,
                        "layers": layers,
                        "hidden_size": hidden,
                        "batch_size": batch_size,
                    }
                )
                x = windows[:, : w.lookback, None].contiguous()  # [W, L, 1]
                pairs = []  # (bare, ours), alternated: a neighbour's load hits both alike
                for _ in range(ROUNDS if size == "default" else 1):
                    bare, epochs = bare_rate(cell, hidden, layers, x, y, batch_size)
                    pairs.append((bare, real_rate(cfg, values[:, None], split, epochs)))
                bare, ours = (statistics.median(p) for p in zip(*pairs, strict=True))
                ratios = sorted(o / b for b, o in pairs)
                ratio = statistics.median(ratios)
                flag = "" if ratio >= 0.9 or math.isnan(ratio) else "  < 0.9"
                spread = f"  ({ratios[0]:.2f}-{ratios[-1]:.2f})" if len(ratios) > 1 else ""
                print(f"{cell:<5} {size:<8} {batch_size:>5} {bare:>10.0f} {ours:>10.0f} "
                      f"{ratio:>9.2f}{flag}{spread}")  # fmt: skip


if __name__ == "__main__":
    np.random.seed(0)
    torch.manual_seed(0)
    main()
