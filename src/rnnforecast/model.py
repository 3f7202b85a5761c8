"""The network: stacked recurrent layers (rnn, lstm or gru) and a linear head to all H steps,
plus an optional linear skip from the input window to the output."""

from __future__ import annotations

import torch
from torch import nn

from rnnforecast.baselines import profile_map
from rnnforecast.config import ModelConfig
from rnnforecast.windows import WINDOW_STD_FLOOR

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Forecaster(nn.Module):
    """Direct multi-step forecaster: input window [B, L, F] -> [B, H] in the same units.

    Channel 0 of the input is the (per-series scaled) target. Each layer is its own one-layer
    PyTorch module, so residual links and dropout sit between layers and the numpy engine can
    mirror the stack one layer at a time; each layer still runs the fused (cuDNN) kernel.

    With `skip="linear"` a linear map of the (normalised) input window is added to the head's
    output (LSTNet's autoregressive highway): naive, seasonal naive and drift are linear in the
    window, so the network starts from them and learns only what they miss, which small data
    can teach quickly. It starts as the naive forecast with lag `season` (`init_seasonal`):
    seasonal naive, or naive with lag 1; with `seasons` > 1, as the mean profile of that many
    seasons at the last season's level.

    With `n_future` future covariates (the last input channels), their values over the horizon,
    [B, H, n_future], reach the output through a linear map of the flattened block (`future`),
    added like the skip; it starts at zero, so training starts from the same forecast.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        lookback: int,
        horizon: int,
        n_inputs: int = 1,
        season: int = 1,
        n_future: int = 0,
        seasons: int = 1,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_future = n_future
        extra = {"nonlinearity": cfg.activation} if cfg.cell == "rnn" else {}
        self.rnns = nn.ModuleList(
            CELLS[cfg.cell](
                n_inputs if i == 0 else cfg.hidden_size, cfg.hidden_size, batch_first=True, **extra
            )
            for i in range(cfg.layers)
        )
        # LayerNorm on each layer's output, before the residual add: the residual path stays
        # an identity (as in pre-LN transformers) while every layer hands on unit-scale features
        self.norms = (
            nn.ModuleList(nn.LayerNorm(cfg.hidden_size) for _ in range(cfg.layers))
            if cfg.layer_norm
            else None
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size, horizon)
        self.skip = nn.Linear(lookback, horizon) if cfg.skip == "linear" else None
        self.future = nn.Linear(horizon * n_future, horizon, bias=False) if n_future else None
        if cfg.init == "orthogonal":
            self._init_recurrent()
        if self.skip is not None:  # start exactly at the (seasonal) naive forecast
            init_seasonal(self.skip.weight, self.skip.bias, season, seasons)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        if self.future is not None:
            nn.init.zeros_(self.future.weight)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, L, F] -> [B, H]; `future` [B, H, n_future] when the model has future
        covariates (their scaled values over the horizon)."""
        target = x[..., :1]  # [B, L, 1]
        if self.cfg.window_norm:
            loc = target.mean(dim=1, keepdim=True)  # [B, 1, 1]
            centred = target - loc  # [B, L, 1]
            # the std in two passes: torch.std's one-pass kernel costs ~20x a mean on CPU
            scale = centred.square().mean(dim=1, keepdim=True).sqrt()  # [B, 1, 1]
            scale = torch.where(scale > WINDOW_STD_FLOOR, scale, torch.ones_like(scale))
            normed = centred / scale  # [B, L, 1]
            x = torch.cat([normed, x[..., 1:]], dim=-1) if x.shape[-1] > 1 else normed  # [B, L, F]
        h = x  # [B, L, F]
        for i, rnn in enumerate(self.rnns):
            out, _ = rnn(h)  # [B, L, hidden]
            if self.norms is not None:
                out = self.norms[i](out)  # [B, L, hidden], over the hidden features of each step
            h = out + h if self.cfg.residual and i > 0 else out  # [B, L, hidden]
            if i < len(self.rnns) - 1:
                h = self.dropout(h)  # [B, L, hidden]
        y = self.head(h[:, -1])  # [B, H]
        if self.skip is not None:
            y = y + self.skip(x[..., 0])  # [B, H], linear in the (normalised) input window
        if self.future is not None:
            y = y + self.future(future.flatten(1))  # [B, H], from [B, H * n_future]
        if self.cfg.window_norm:
            y = y * scale[:, :, 0] + loc[:, :, 0]  # [B, H]
        return y

    @torch.no_grad()
    def _init_recurrent(self) -> None:
        """Orthogonal recurrent and Xavier input blocks per gate; LSTM forget-gate bias 1.

        A relu rnn starts from a scaled identity instead (IRNN), which keeps it from exploding.
        """
        hidden = self.cfg.hidden_size
        for rnn in self.rnns:
            for name, p in rnn.named_parameters():
                for block in p.split(hidden, dim=0):  # one block per gate
                    if name.startswith("weight_hh"):
                        if self.cfg.cell == "rnn" and self.cfg.activation == "relu":
                            block.copy_(0.5 * torch.eye(hidden))
                        else:
                            nn.init.orthogonal_(block)
                    elif name.startswith("weight_ih"):
                        nn.init.xavier_uniform_(block)
                    else:
                        block.zero_()
                if self.cfg.cell == "lstm" and name.startswith("bias_ih"):
                    p[hidden : 2 * hidden] = 1.0  # gates are i, f, g, o


@torch.no_grad()
def init_seasonal(weight: torch.Tensor, bias: torch.Tensor, season: int, seasons: int = 1) -> None:
    """Set a [H, L] linear map to the seasonal-naive forecast, or with `seasons` > 1 to the
    mean profile of that many seasons at the last season's level (`baselines.profile_map`);
    season 1 is naive, 0 a zero map (the output starts at the window mean under window
    normalisation)."""
    horizon, lookback = weight.shape
    weight.copy_(torch.from_numpy(profile_map(lookback, horizon, season, seasons)))
    bias.zero_()
