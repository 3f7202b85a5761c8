"""Train an ensemble's members one after another (one model is an ensemble of one), each from
its own seed, and continue an interrupted run exactly where its checkpoint stopped.

A checkpoint carries the finished members' weights and histories, the state of the member it
stopped in, and a fingerprint of the data and settings, so `--resume` continues only the run
it came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnforecast import distributed, train
from rnnforecast.config import Config
from rnnforecast.errors import RnnForecastError
from rnnforecast.model import Forecaster
from rnnforecast.windows import Split

Weights = dict[str, np.ndarray]


def fit_members(
    values: np.ndarray,
    split: Split,
    cfg: Config,
    skip: tuple[int, int],
    start: list[Weights] | None = None,
    resume: Path | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    note: Callable[[str], None] = lambda msg: None,
) -> tuple[list[Weights], list[train.History]]:
    """Each member's weights and training history. Member k trains with seed `seed + k` on
    the windows of `values` [N, F] that `split` indexes, its linear skip starting at `skip`
    (lag, seasons) or, for a warm start, from `start[k]`; `resume` is the checkpoint of an
    interrupted run of the same data and settings."""
    w = cfg.window
    fingerprint = _fingerprint(cfg, values, split, distributed.world())
    state = train.load_checkpoint(resume) if resume is not None else None
    if state is not None and state.get("fingerprint") != fingerprint:
        raise RnnForecastError(
            f"{resume}: the checkpoint comes from other data or settings; rerun the interrupted "
            "command unchanged, or delete the checkpoint and train without --resume"
        )

    def network(k: int) -> Forecaster:
        return Forecaster(
            cfg.model.member(k), w.lookback, w.horizon, values.shape[1], season=skip[0],
            n_future=len(cfg.data.future_covariates or ()), seasons=skip[1],
        )  # fmt: skip

    # members finished before an interruption: their weights and histories
    done = list(state.get("members", [])) if state is not None else []
    histories = _resumed_histories(state, done, cfg, resume, network) if state is not None else []
    resumed = len(done)  # the member a checkpoint stopped in: the only one it continues
    ends = time.perf_counter() + (cfg.train.budget or math.inf)
    for k in range(resumed, cfg.model.ensemble):
        if cfg.model.ensemble > 1:
            cell = cfg.model.member(k).cell
            note(f"ensemble member {k + 1}/{cfg.model.ensemble}: {cell}, seed {cfg.train.seed + k}")
        train.set_seed(cfg.train.seed + k)
        model = network(k)
        if start is not None:
            model.load_state_dict({n: torch.from_numpy(v.copy()) for n, v in start[k].items()})
        member_cfg = dataclasses.replace(cfg.train, seed=cfg.train.seed + k)
        now = time.perf_counter()
        try:
            with train.flush_denormals():
                histories.append(
                    train.fit(
                        model, values, split.train_starts, split.val_starts, w.lookback,
                        member_cfg, _of_member(on_epoch, k, cfg.model.ensemble),
                        state if k == resumed else None,
                        deadline=now + (ends - now) / (cfg.model.ensemble - k),  # a fair share
                    )
                )  # fmt: skip
        except train.Interrupted as stop:
            stop.state["fingerprint"] = fingerprint
            stop.state["members"] = done
            stop.state["histories"] = [dataclasses.asdict(h) for h in histories]
            raise
        done.append(model.state_dict())
    weights = [{n: v.detach().cpu().numpy() for n, v in member.items()} for member in done]
    return weights, histories


def _of_member(
    on_epoch: Callable[[dict[str, float]], None] | None, k: int, members: int
) -> Callable[[dict[str, float]], None] | None:
    """The per-epoch callback of member k of an ensemble: its rows also say which member
    (1-based) of how many, so a progress bar that restarts for each member can say so."""
    if on_epoch is None or members == 1:
        return on_epoch
    return lambda row: on_epoch({**row, "member": k + 1, "members": members})


def check_warm_start(old: Config, new: Config, path: Path | None) -> None:
    """The weights fit only a network of the same shape: cell, sizes, horizon, lookback."""
    pairs = {
        **{
            f.name: (getattr(old.model, f.name), getattr(new.model, f.name))
            for f in dataclasses.fields(old.model)
            if f.name not in ("blend", "blend_share")  # chosen after training, not weights
        },
        "horizon": (old.window.horizon, new.window.horizon),
        "lookback": (old.window.lookback, new.window.lookback),
        "transform": (old.data.transform, new.data.transform),
        "past_covariates": (old.data.past_covariates, new.data.past_covariates),
        "future_covariates": (old.data.future_covariates, new.data.future_covariates),
    }
    differ = [f"{k} {a} -> {b}" for k, (a, b) in pairs.items() if a != b]
    if differ:
        raise RnnForecastError(
            f"--warm-start {path}: this run changes {', '.join(differ)}; a warm start "
            "keeps the model's shape, so drop those options or train from scratch"
        )


def _fingerprint(cfg: Config, values: np.ndarray, split: Split, processes: int) -> str:
    """SHA-256 of the settings, the exact training data and the number of processes, to match
    a checkpoint to its run."""
    digest = hashlib.sha256(f"{processes}\n{cfg.to_yaml()}".encode())
    starts = split.train_starts
    for array in (values, starts.shift, starts.ends, split.val_starts):
        digest.update(np.ascontiguousarray(array))  # its buffer: the bytes, without a copy
    return digest.hexdigest()


def _resumed_histories(
    state: dict[str, Any],
    done: list,
    cfg: Config,
    path: Path,
    network: Callable[[int], Forecaster],
) -> list[train.History]:
    """The histories of the ensemble members a checkpoint holds as finished, once their
    weights are known to be those of this run's members (`network(k)` builds member k's):
    a checkpoint is input too."""
    fix = "delete it and train without --resume"
    for k, member in enumerate(done):
        shapes = {} if k + 1 >= cfg.model.ensemble else network(k).state_dict()
        if not shapes or {n: v.shape for n, v in member.items()} != {
            n: v.shape for n, v in shapes.items()
        }:
            raise RnnForecastError(
                f"{path}: the weights of ensemble member {k + 1} are not those of this run's "
                f"model; {fix}"
            )
    rows = state.get("histories", [])
    try:
        histories = [train.History(**h) for h in rows]
    except TypeError:
        histories = None
    if histories is None or len(histories) != len(done):
        raise RnnForecastError(f"{path}: the finished members' histories do not fit; {fix}")
    return histories
