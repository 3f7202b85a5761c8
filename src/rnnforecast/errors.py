"""The one user-facing exception and the exit codes the CLI maps it to."""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class ExitCode(IntEnum):
    """Process exit codes; documented in the README and in `rnnforecast --help`."""

    OK = 0
    BUG = 1  # an unexpected error: a bug worth reporting
    BAD_INPUT = 2  # bad data, options, config or model directory
    DIVERGED = 3  # training produced a NaN/inf loss
    LOCKED = 4  # the model directory is locked by another run
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


class RnnForecastError(Exception):
    """A problem the user can fix; the message says what, where, and what to do."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code
