"""The one user-facing exception and the exit codes the CLI maps it to."""

from __future__ import annotations

import reprlib
import signal
from enum import IntEnum, unique

# non-text values in messages: nested lists (a YAML alias bomb) print a few items a level
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 4, 4


@unique
class ExitCode(IntEnum):
    """Process exit codes; documented in the README and in `rnnforecast --help`."""

    OK = 0
    BUG = 1  # an unexpected error: a bug worth reporting
    BAD_INPUT = 2  # bad data, options, config or model directory
    DIVERGED = 3  # training produced a NaN/inf loss
    LOCKED = 4  # the model directory is locked by another run
    INTERRUPTED = 130  # Ctrl-C, SIGTERM or SIGHUP
    BROKEN_PIPE = 141  # stdout closed before all was written (`| head`): 128 + SIGPIPE


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)  # handled like Ctrl-C (exit INTERRUPTED): partial outputs get cleaned up


class RnnForecastError(Exception):
    """A problem the user can fix; the message says what, where, and what to do."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def quoted(value: object, limit: int = 60) -> str:
    """`value` as a message quotes it: on one line (control characters escaped) and cut to
    `limit` characters, so that no input (a 10 MB id, a cell with newlines) can make an
    error longer than a line."""
    nested = isinstance(value, list | tuple | dict | set)
    text = _SHORT_REPR.repr(value) if nested else str(value)
    cut = len(text) > limit
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    if not cut:
        return shown
    return f"{shown}..." if nested else f"{shown}... ({len(text):,} characters)"


def listed(names: list | tuple, limit: int = 5) -> str:
    """The first `limit` names, each quoted short, then how many more there are."""
    shown = ", ".join(quoted(n, 40) for n in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")
