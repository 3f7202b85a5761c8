"""`train --nproc N`: this command as the N processes of one torch.distributed job on this
machine, supervised by the process the user started. No torch here: the workers import it.

The supervisor stays in charge, so no worker outlives it or keeps the lock: Ctrl-C, SIGTERM or
SIGHUP is passed on to every worker (each stops after its batch, rank 0 saving the checkpoint),
a failed worker stops the others, one still running GRACE seconds later is killed, and on Linux
a worker is sent SIGTERM if the supervisor dies. Rank 0 prints; the others' messages are shown
only when one of them alone failed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import IO

from rnnforecast.errors import STOP_SIGNALS, ExitCode, RnnForecastError

GRACE = 30.0  # seconds workers get to stop and save a checkpoint, then killed


def workers(nproc: int, argv: list[str]) -> int:
    """Run `argv` (this command's arguments) without --nproc as N workers, with the
    environment `torchrun --standalone --nproc-per-node N` gives them; the job's exit code."""
    stops: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: stops.append(signum))
                for s in (signal.SIGINT, *STOP_SIGNALS)}  # fmt: skip
    procs: list[subprocess.Popen] = []
    logs: list[IO[bytes] | None] = []
    try:
        env = _environment(nproc)
        for rank in range(nproc):
            logs.append(None if rank == 0 else tempfile.TemporaryFile())
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "rnnforecast", *without_nproc(argv)],
                    env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                    stdout=None if rank == 0 else subprocess.DEVNULL,
                    stderr=logs[-1],
                    preexec_fn=_die_with_parent,
                )
            )
        _supervise(procs, stops)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stops:
        return int(ExitCode.INTERRUPTED)
    return _outcome([p.returncode for p in procs], logs)


def without_nproc(argv: list[str]) -> list[str]:
    """The command's arguments less `--nproc N` / `--nproc=N`."""
    args, skip = [], False
    for arg in argv:
        if not skip and not arg.startswith("--nproc"):
            args.append(arg)
        skip = arg == "--nproc"
    return args


def _environment(nproc: int) -> dict[str, str]:
    """torchrun's variables for a one-machine job, on a free port for its rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           "WORLD_SIZE": str(nproc), "LOCAL_WORLD_SIZE": str(nproc), "GROUP_RANK": "0"}  # fmt: skip
    env.setdefault("OMP_NUM_THREADS", "1")  # as torchrun does: N processes share the cores
    return env


def _supervise(procs: list[subprocess.Popen], stops: list[int]) -> None:
    """Wait for every worker; on a stop signal or a failure, SIGTERM the rest, and kill any
    still running GRACE seconds later."""
    deadline = None
    while any(p.poll() is None for p in procs):
        failed = any(p.returncode not in (None, 0) for p in procs)
        if deadline is None and (stops or failed):
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + GRACE
        elif deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.05)


def _outcome(codes: list[int], logs: list[IO[bytes] | None]) -> int:
    """The job's exit code: rank 0's when it failed (it said why), else that of the first
    failed worker, with the last line it wrote."""
    if codes[0] > 0:
        return codes[0]
    if codes[0] < 0:
        raise RnnForecastError(
            f"training worker rank 0 was killed by signal {-codes[0]}", ExitCode.BUG
        )
    for rank, code in enumerate(codes):
        log = logs[rank]
        if code and log is not None:
            log.seek(0)
            said = log.read().decode("utf-8", "replace").strip().splitlines()
            last = said[-1].removeprefix("error: ") if said else f"exit code {code}"
            raise RnnForecastError(
                f"training worker rank {rank} failed: {last}",
                ExitCode(code) if code in iter(ExitCode) else ExitCode.BUG,
            )
    return 0


def _die_with_parent() -> None:
    """In a child before exec: ask Linux to send it SIGTERM when its parent dies."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's handlers still stop it
        pass
