"""Atomic writes: every output is built beside its target and renamed into place.

A crash, Ctrl-C or SIGTERM at any moment leaves either the old complete file or directory or the
new complete one, never a mix and never a half-written file.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from rnnforecast.errors import ExitCode, RnnForecastError


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _staged_file(path) as tmp:
        tmp.write_bytes(payload)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[TextIO]:
    """A text file to write in pieces; it appears at `path` whole, when the block ends."""
    with _staged_file(Path(path)) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        yield f


@contextlib.contextmanager
def _staged_file(path: Path) -> Iterator[Path]:
    parent = _writable_parent(path)
    if path.is_dir():
        raise RnnForecastError(f"{path}: is a directory; give a file path for the output")
    fd, name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def staged_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside `target`; on success it replaces `target`.

    On any exception (or KeyboardInterrupt) the temporary directory is removed and `target`
    is left exactly as it was.
    """
    target = Path(target)
    parent = _writable_parent(target)
    if target.exists() and not target.is_dir():
        raise RnnForecastError(f"{target}: exists and is not a directory; choose another --out")
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        for f in tmp.iterdir():
            _fsync(f)
        replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(src: Path, target: Path) -> None:
    """Move directory `src` to `target`, replacing any old `target` as atomically as possible.

    On Linux the two directories are swapped in one `renameat2(RENAME_EXCHANGE)` call, so a
    reader always finds a complete directory at `target`; elsewhere the old one is moved aside
    first, which leaves a moment with no directory at `target`.
    """
    if not target.exists():
        os.rename(src, target)
        return
    if _exchange(src, target):
        shutil.rmtree(src, ignore_errors=True)  # src now holds the old directory
        return
    aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
    aside.rmdir()
    os.rename(target, aside)
    os.rename(src, target)
    shutil.rmtree(aside, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux renameat2; False where it is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    ok = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return ok == 0


def _writable_parent(path: Path) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise RnnForecastError(
            f"{path}: its directory {parent} does not exist; create it or choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RnnForecastError(f"{path}: cannot write in {parent} (permission denied)")
    return parent


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


@contextlib.contextmanager
def locked(
    target: str | Path, wait: float = 0.0, on_note: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on writing `target` (a model directory) while the block runs.

    The lock is `.<name>.lock` beside the directory, not inside it, so the atomic swap of the
    directory never drops it. It is an flock, which the kernel releases when a process dies;
    the file names its holder (PID, start time) for the message another run prints. A file
    left by a killed run is taken over with a note. Without fcntl (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    target = Path(target)
    path = _writable_parent(target) / f".{target.name}.lock"
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                raise RnnForecastError(
                    f"{target}: locked by another run (PID {holder.get('pid', '?')}, started "
                    f"{holder.get('started', '?')}); wait for it or pass --wait SECONDS",
                    ExitCode.LOCKED,
                ) from None
            time.sleep(0.2)
            continue
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed the file as we opened it: lock the new one
    stale = _holder(fd)
    if stale and on_note is not None:
        on_note(
            f"took over the lock of a run that did not finish (PID {stale.get('pid', '?')}, "
            f"started {stale.get('started', '?')})"
        )
    me = {
        "pid": os.getpid(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "command": " ".join(sys.argv[:3]),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode(), 0)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # before unlocking: a waiter then re-opens a fresh file
        os.close(fd)


def _holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
