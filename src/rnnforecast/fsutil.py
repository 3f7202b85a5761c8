"""Safe writes: every output is built beside its target and renamed into place, and only ever
replaces what rnnforecast itself wrote.

A crash, Ctrl-C, SIGTERM or SIGHUP at any moment leaves either the old complete file or
directory or the new complete one, never a mix, a half-written file or a temporary one. Paths
are checked before the work starts (an unusable --out fails in a second, not after training) and
again at the swap. Nothing is ever written through a symbolic link: temporary files are created
with O_EXCL and written through their own descriptor, the lock is opened with O_NOFOLLOW, and a
link at the target is refused, or with --force replaced itself, never what it points to.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import json
import os
import re
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from rnnforecast.errors import ExitCode, RnnForecastError, quoted

SHOWN = 3  # names quoted in a message before the rest are counted
TAIL_BYTES = 64 * 1024  # where a bytes mark (a Parquet file's metadata) is looked for
# what a file rnnforecast wrote bears: a pattern its first line matches (CSV), or bytes near
# its end (Parquet's footer metadata)
Mark = re.Pattern[str] | bytes
MARKER_BYTES = 1 << 20  # a marker file larger than this is not one rnnforecast wrote
SCAN_LIMIT = 100_000  # entries looked at in a directory; one with more is not judged ours
SUFFIX_ROOM = 6  # bytes that `.<name>.lock` and `<name>.ckpt` add to a directory's name
# never through a link, never blocking on a FIFO, never inherited (0 where the OS lacks one)
_SAFE = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
READ_FLAGS = os.O_RDONLY | _SAFE | getattr(os, "O_BINARY", 0)  # how every file is opened to read
_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@dataclass(frozen=True)
class Owner:
    """A kind of directory rnnforecast writes, known by a JSON marker file inside it whose
    "format" names the kind and whose "files" names everything else the directory holds."""

    what: str  # "model directory", in messages
    marker: str  # file name of the marker
    format: str  # the marker's "format" value
    # the files of such a directory written before it had a marker, or None: not one
    unmarked: Callable[[Path], list[str] | None] | None = None


def _unmarked_report(folder: Path) -> list[str] | None:
    """A report directory from before the marker: its metrics.json names an rnnforecast
    evaluate or backtest; it may hold that, forecasts.csv, report.md and PNG plots."""
    doc = _read_json(folder / "metrics.json")
    if not isinstance(doc, dict) or doc.get("command") not in ("evaluate", "backtest"):
        return None
    if "rnnforecast_version" not in doc:
        return None
    plots = folder / "plots"
    pngs = [f"plots/{e.name}" for e in _scan(plots) if e.name.endswith(".png")]
    return ["metrics.json", "forecasts.csv", "report.md", *pngs]


MODEL_DIR = Owner("model directory", "manifest.json", "rnnforecast-model")
REPORT_DIR = Owner(
    "report directory", "rnnforecast-report.json", "rnnforecast-report", _unmarked_report
)
OWNERS = (MODEL_DIR, REPORT_DIR)


# --- checks of a target path -----------------------------------------------------------------


def check_dir_out(target: str | Path, owner: Owner, force: bool = False) -> Path:
    """Refuse a directory target that cannot be written, or whose replacement would destroy
    something rnnforecast did not write: an existing directory must be empty or one of
    `owner`'s kind holding only its own files. `force` allows replacing any directory, file
    or link (the link itself), never a special file or a directory around the working one."""
    target = _named(target, "a directory")
    _check_parent(target, SUFFIX_ROOM)
    st = _lstat(target)
    if st is None or (force and (stat.S_ISLNK(st.st_mode) or stat.S_ISREG(st.st_mode))):
        return _probed(target)  # a new entry, or the file or link itself replaced
    if stat.S_ISLNK(st.st_mode):
        raise RnnForecastError(
            f"{target}: is a symbolic link (to {_link(target)}); rnnforecast never writes "
            "through links: give the real path, or pass --force to replace the link itself"
        )
    if stat.S_ISREG(st.st_mode):
        raise RnnForecastError(
            f"{target}: is a file, not a {owner.what}; choose another --out, or pass --force "
            "to replace the file"
        )
    if not stat.S_ISDIR(st.st_mode):
        raise RnnForecastError(
            f"{target}: is a {_kind(st.st_mode)}, not a directory; choose another --out"
        )
    if _holds_cwd(target):
        raise RnnForecastError(
            f"{target}: holds the current directory, which rnnforecast will not replace; "
            "choose another --out"
        )
    if not force:
        _check_own_dir(target, owner)
    _check_removable(target, st)
    return _probed(target)


def check_file_out(path: str | Path, mark: Mark | None = None, force: bool = False) -> Path:
    """Refuse a file target that cannot be written or must not be replaced: a directory or a
    special file always; with `mark` (a `Mark`), and without `force`, also a link or a
    non-empty file that does not bear it (a file rnnforecast would not have written)."""
    path = _named(path, "a file")
    _check_parent(path, 0)
    st = _lstat(path)
    if st is None:
        return _probed(path)
    if stat.S_ISDIR(st.st_mode):
        raise RnnForecastError(f"{path}: is a directory; give a file path for the output")
    if stat.S_ISLNK(st.st_mode):
        if mark is not None and not force:
            raise RnnForecastError(
                f"{path}: is a symbolic link (to {_link(path)}); rnnforecast never writes "
                "through links: give the real path, or pass --force to replace the link itself"
            )
        return _probed(path)
    if not stat.S_ISREG(st.st_mode):
        raise RnnForecastError(
            f"{path}: is a {_kind(st.st_mode)}, not a regular file; rnnforecast writes a new "
            "file and renames it into place: give a file path, or --out - for stdout"
        )
    if mark is None or force or st.st_size == 0:
        return _probed(path)
    shown = _unmarked(path, mark)
    if shown is not None:
        raise RnnForecastError(
            f"{path}: exists and is not a file rnnforecast wrote (it {shown}); choose another "
            "--out, or pass --force to replace it"
        )
    return _probed(path)


def _named(path: str | Path, what: str) -> Path:
    """The path, if its last part names something that can be created and renamed."""
    text = os.fspath(path)
    if "\0" in text:
        raise RnnForecastError(f"{text!r}: a path cannot hold a NUL character")
    home = text.split("/", 1)[0]
    if home.startswith("~") and os.path.expanduser(home) != home:
        raise RnnForecastError(
            f"{text}: starts with '{home}', which the shell did not expand (it does not after "
            f"'=' or in quotes); write the path out ({os.path.expanduser(text)}), or ./{text} "
            "for a name that starts with ~"
        )
    path = Path(text)
    if path.name in ("", ".."):
        which = (
            "the current directory"
            if path == Path(".")
            else "a parent directory"
            if path.name
            else "the root directory"
        )
        raise RnnForecastError(
            f"{text}: names {which}, which rnnforecast cannot replace; give the name of {what} "
            f"to write, e.g. {path / 'out'}"
        )
    if what == "a file" and text.endswith(("/", os.sep)):
        raise RnnForecastError(
            f"{text}: ends with '/', which names a directory; give the path of a file to write"
        )
    return path


def _check_parent(path: Path, room: int) -> None:
    """The directory `path` goes in exists, is a directory, and takes a name that long."""
    parent = path.parent
    try:
        st = os.stat(parent)
    except OSError as e:
        reason = "does not exist" if e.errno == errno.ENOENT else f"cannot be used ({e.strerror})"
        raise RnnForecastError(
            f"{path}: its directory {parent} {reason}; create it or choose another path"
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise RnnForecastError(
            f"{path}: {parent} is not a directory; choose another path"
        ) from None
    size, limit = len(os.fsencode(path.name)), _name_max(parent) - room
    if size > limit:
        raise RnnForecastError(
            f"{path}: the name is {size} bytes long; {parent} takes at most {limit} here; "
            "choose a shorter name"
        )


def _probed(path: Path) -> Path:
    """`path`, once its directory has let us create an entry there (and remove it): that
    answers for permissions, read-only mounts and /proc alike, where os.access does not."""
    try:
        with _shielded():
            os.rmdir(tempfile.mkdtemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".probe"))
    except OSError as e:
        raise RnnForecastError(
            f"{path}: cannot write in {path.parent} ({e.strerror}); choose another path"
        ) from None
    return path


def _check_own_dir(target: Path, owner: Owner) -> None:
    """An existing directory may be replaced when empty or when `owner`'s marker lists all it
    holds; otherwise say what it holds."""
    entries, more = _entries(target)
    if not entries:
        return
    marker = _marker(target, owner)
    if marker is None:
        for other in OWNERS:
            if other != owner and _marker(target, other) is not None:
                raise RnnForecastError(
                    f"{target}: is an rnnforecast {other.what}, not a {owner.what}; choose "
                    "another --out, or pass --force to replace it"
                )
        raise RnnForecastError(
            f"{target}: is not a {owner.what} rnnforecast wrote (it holds "
            f"{_few(entries, more)}); choose another --out, empty it, or pass --force to "
            "replace it and all it holds"
        )
    foreign, more = _foreign(target, set(marker) | {owner.marker})
    if foreign or more:
        raise RnnForecastError(
            f"{target}: holds files rnnforecast did not write ({_few(foreign, more)}); move them "
            "out, choose another --out, or pass --force to replace it and all it holds"
        )


def _check_removable(target: Path, st: os.stat_result) -> None:
    """The old directory at `target` can be moved aside and emptied once the new one is in
    place: otherwise the swap would fail after all the work, or leave the old one behind
    under a temporary name. A directory whose parent is sticky (/tmp) moves only for its
    owner; its files go only where each folder of it can be written."""
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is None or uid == 0:
        return  # not POSIX, or root: nothing here is refused for permissions
    parent = os.stat(target.parent)
    if parent.st_mode & stat.S_ISVTX and uid not in (st.st_uid, parent.st_uid):
        raise RnnForecastError(
            f"{target}: belongs to another user in the shared directory {target.parent}, "
            "so rnnforecast cannot replace it; choose another --out"
        )
    pending, seen = [target], 0
    while pending and seen <= SCAN_LIMIT:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(itertools.islice(it, SCAN_LIMIT))
        except OSError as e:
            raise RnnForecastError(
                f"{target}: cannot be replaced: {folder} cannot be read ({e.strerror}); fix its "
                "permissions or choose another --out"
            ) from None
        if entries and not os.access(folder, os.W_OK | os.X_OK):
            raise RnnForecastError(
                f"{target}: cannot be replaced: the files in {folder} cannot be removed "
                "(permission denied); fix its permissions or choose another --out"
            )
        seen += len(entries)
        pending += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]


def _entries(folder: Path) -> tuple[list[str], int]:
    """Up to SCAN_LIMIT entry names (a folder with a slash), sorted, and how many more."""
    names, more = [], 0
    with os.scandir(folder) as it:
        for entry in it:
            if len(names) < SCAN_LIMIT:
                names.append(entry.name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
            else:
                more += 1
                break  # too many to be ours; enough to say so
    return sorted(names), more


def _marker(folder: Path, owner: Owner) -> list[str] | None:
    """The relative paths `owner`'s marker in `folder` lists (or, without a marker, those of
    an unmarked directory of that kind), or None: not one of `owner`'s directories."""
    doc = _read_json(folder / owner.marker)
    if doc is None and owner.unmarked is not None and _lstat(folder / owner.marker) is None:
        return owner.unmarked(folder)
    if not isinstance(doc, dict) or doc.get("format") != owner.format:
        return None
    files = doc.get("files")
    if not isinstance(files, dict | list) or not all(isinstance(f, str) for f in files):
        return None
    return list(files)


def _read_json(path: Path) -> object:
    """A small regular file's JSON (no link followed), or None."""
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MARKER_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return json.loads(raw) if len(raw) <= MARKER_BYTES else None
    except ValueError:
        return None


def _scan(folder: Path) -> list[os.DirEntry]:
    """The regular files of a real directory (not through a link), up to SCAN_LIMIT."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return []
        with os.scandir(folder) as it:
            return [e for e in itertools.islice(it, SCAN_LIMIT) if e.is_file(follow_symlinks=False)]
    except OSError:
        return []


def _foreign(folder: Path, own: set[str]) -> tuple[list[str], int]:
    """Entries of `folder` (at any depth) neither listed nor a folder of a listed file, up to
    a few, and how many more (1 for any left unseen past SCAN_LIMIT); a link is never one we
    wrote."""
    dirs = {str(Path(p).parent) for p in own} - {"."}
    dirs |= {str(parent) for d in list(dirs) for parent in Path(d).parents} - {"."}
    found: list[str] = []
    more = seen = 0
    pending = [""]
    while pending and seen <= SCAN_LIMIT:
        rel = pending.pop()
        with os.scandir(folder / rel if rel else folder) as it:
            for entry in it:
                seen += 1
                if seen > SCAN_LIMIT:
                    break
                name = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False) and name in dirs:
                    pending.append(name)
                elif entry.is_file(follow_symlinks=False) and name in own:
                    continue
                elif entry.is_dir(follow_symlinks=False) and _empty(entry.path):
                    continue  # an empty folder: replacing it loses nothing
                elif len(found) < SCAN_LIMIT:
                    found.append(name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
                else:
                    more += 1
    if seen > SCAN_LIMIT:
        more += 1  # not all seen: not known to be ours
    return sorted(found), more


def _empty(folder: str) -> bool:
    with os.scandir(folder) as it:
        return next(it, None) is None


def _few(names: list[str], more: int = 0) -> str:
    """At most SHOWN names, then a count of the rest."""
    shown = ", ".join(f"'{quoted(n, 40)}'" for n in names[:SHOWN])
    rest = len(names) - SHOWN
    text = shown + (f" and {rest:,} more" if rest > 0 else "")
    if more:
        text += f" (over {SCAN_LIMIT:,} entries in all)" if text else f"over {SCAN_LIMIT:,} entries"
    return text


def _unmarked(path: Path, mark: Mark) -> str | None:
    """None if the file bears `mark` (a pattern its first line matches; bytes its last
    TAIL_BYTES hold, where a Parquet file keeps its metadata), else how it looks instead."""
    if isinstance(mark, bytes):
        tail = _tail(path)
        return None if tail is not None and mark in tail else "has no rnnforecast metadata"
    head = _first_line(path)
    if head is not None and mark.fullmatch(head):
        return None
    return "is not text" if head is None else f"starts '{quoted(head)}'"


def _tail(path: Path) -> bytes | None:
    """The last TAIL_BYTES of a regular file (no link followed), or None if unreadable."""
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError:
        return None
    try:
        os.lseek(fd, max(os.fstat(fd).st_size - TAIL_BYTES, 0), os.SEEK_SET)
        return os.read(fd, TAIL_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)


def _first_line(path: Path) -> str | None:
    """The first line of a regular file (bounded, no link followed), or None if not text."""
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        return raw.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        return None


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _link(path: Path) -> str:
    try:
        return f"'{quoted(os.readlink(path))}'"
    except OSError:
        return "?"


def _kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "FIFO", stat.S_ISCHR: "character device", stat.S_ISBLK: "block device",
             stat.S_ISSOCK: "socket"}  # fmt: skip
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def _holds_cwd(target: Path) -> bool:
    try:
        return Path.cwd().resolve().is_relative_to(target.resolve())
    except OSError:
        return False


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_prefix(path: Path) -> str:
    """Temporary names beside `path` start with a dot and part of its name, short enough
    that any name the file system takes leaves room for them."""
    return f".{path.name[:64]}."


# --- writing -----------------------------------------------------------------------------------


def atomic_write(
    path: str | Path,
    data: str | bytes,
    mark: Mark | None = None,
    force: bool = False,
) -> None:
    """Write `data` to `path` through a temporary file in the same directory."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _staged_file(Path(path), mark, force) as f:
        f.write(payload)


@contextlib.contextmanager
def atomic_open(
    path: str | Path, mark: Mark | None = None, force: bool = False
) -> Iterator[TextIO]:
    """A text file to write in pieces; it appears at `path` whole, when the block ends.
    `mark` and `force` say what it may replace (see `check_file_out`)."""
    with _staged_file(Path(path), mark, force) as f:
        with open(f.fileno(), "w", encoding="utf-8", newline="", closefd=False) as text:
            yield text


@contextlib.contextmanager
def atomic_binary(
    path: str | Path, mark: Mark | None = None, force: bool = False
) -> Iterator[BinaryIO]:
    """A binary file to write in pieces (a Parquet writer's sink), as `atomic_open`."""
    with _staged_file(Path(path), mark, force) as f:
        yield f


@contextlib.contextmanager
def _staged_file(path: Path, mark: Mark | None, force: bool) -> Iterator[BinaryIO]:
    path = check_file_out(path, mark, force)
    tmp: Path | None = None
    try:
        with _shielded():  # no signal between creating the file and owning its clean-up
            try:
                fd, name = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path),
                                            suffix=".tmp")  # fmt: skip
            except OSError as e:
                raise _write_error(path, e) from None
            tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:  # its own descriptor: the name is never reopened
                os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual
                yield f
                f.flush()
                os.fsync(fd)
        except OSError as e:
            if not _from(e, tmp):
                raise
            raise _write_error(path, e) from None
        with _shielded():
            check_file_out(path, mark, force)  # again: the target may have changed
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise _write_error(path, e) from None
            tmp = None
    finally:
        if tmp is not None:
            with _shielded():
                tmp.unlink(missing_ok=True)


def deliver(source: TextIO, stream: TextIO) -> None:
    """Copy all of `source` (a spooled output) to `stream` and flush it with Ctrl-C, SIGTERM
    and SIGHUP held back, so a reader gets the whole output or, stopped before, none of it;
    a signal sent meanwhile arrives right after."""
    with _shielded():
        source.seek(0)
        shutil.copyfileobj(source, stream)
        stream.flush()


def write_new(folder: Path, name: str, data: bytes) -> None:
    """Create `folder/name` (which must not exist: never through a link) holding `data`."""
    with open_new(folder / name) as f:
        f.write(data)


def open_new(path: Path) -> BinaryIO:
    """A new file opened for writing; an existing file or link at `path` is an error."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE
    return os.fdopen(os.open(path, flags, 0o666), "wb")


@contextlib.contextmanager
def staged_dir(target: str | Path, owner: Owner, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory beside `target`; on success it replaces `target`.

    `target` is checked first and again at the swap (see `check_dir_out`). On any exception
    (KeyboardInterrupt too) the temporary directory is removed and `target` is left exactly
    as it was. Write into it with `write_new`/`open_new`; it is private until the swap.
    """
    target = check_dir_out(target, owner, force)
    tmp: Path | None = None
    try:
        with _shielded():
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temp_prefix(target),
                                        suffix=".tmp"))  # fmt: skip
        try:
            yield tmp
            _sync_tree(tmp)
        except OSError as e:
            if not _from(e, tmp):
                raise
            raise _write_error(target, e) from None
        with _shielded():
            check_dir_out(target, owner, force)
            try:
                replace_dir(tmp, target)
            except OSError as e:
                raise _write_error(target, e) from None
            tmp = None
    finally:
        if tmp is not None:
            with _shielded():
                shutil.rmtree(tmp, ignore_errors=True)


def _sync_tree(folder: Path) -> None:
    """fsync every file and folder under `folder`, then give it the usual permissions
    (mkdtemp makes it 0700, which kept it private while written)."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), READ_FLAGS)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _SAFE)
    try:
        os.fchmod(fd, 0o777 & ~_umask())
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_dir(src: Path, target: Path) -> None:
    """Move directory `src` to `target`, replacing whatever `target` is (a directory, or with
    --force a file or link: the link itself), as atomically as possible.

    On Linux the two are swapped in one `renameat2(RENAME_EXCHANGE)` call, so a reader always
    finds a complete directory at `target`; elsewhere the old one is moved aside first, which
    leaves a moment with nothing at `target`. Where the move into place fails, the old one is
    moved back: an OSError leaves `target` as it was.
    """
    if _lstat(target) is None:
        os.rename(src, target)
        return
    if _exchange(src, target):
        _remove(src)  # src now holds the old entry
        return
    aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temp_prefix(target), suffix=".old"))
    aside.rmdir()
    os.rename(target, aside)
    try:
        os.rename(src, target)
    except OSError:
        os.rename(aside, target)
        raise
    _remove(aside)


def _remove(path: Path) -> None:
    """Remove a file, link (not what it points to) or directory tree."""
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)  # never follows links inside
    else:
        path.unlink(missing_ok=True)


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
    if ok == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # no renameat2, or a file system without exchange: move aside instead
    raise OSError(code, os.strerror(code), os.fspath(b))


def _from(e: OSError, tmp: Path) -> bool:
    """Whether an error in a write block came from writing the temporary output (an error
    naming another file, such as an input read meanwhile, is not a failed write)."""
    return e.filename is None or os.fsdecode(e.filename).startswith(os.fspath(tmp))


def _write_error(path: Path, e: OSError) -> RnnForecastError:
    """A failed write, as a message naming the output and what the OS said."""
    space = "free some space or choose another path"
    hints = {errno.ENOSPC: space, errno.EDQUOT: space, errno.EROFS: "choose a writable path"}
    hint = hints.get(e.errno or 0, "choose another path")
    return RnnForecastError(
        f"{path}: could not be written ({e.strerror or e}); nothing was replaced; {hint}"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back for the block, so a rename and its clean-up run to
    the end; a signal sent meanwhile arrives right after it. Only the main thread handles
    signals, so elsewhere (or without pthread_sigmask) this does nothing."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# --- the lock ----------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(
    target: str | Path, wait: float = 0.0, on_note: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on writing `target` (a model directory) while the block runs.

    The lock is `.<name>.lock` beside the directory, not inside it, so the atomic swap of the
    directory never drops it. It is an flock, which the kernel releases when a process dies;
    the file names its holder (PID, start time) for the message another run prints. A file
    left by a killed run is taken over with a note. A link, a special file or a file that is
    not such a lock is refused, never written. Without fcntl (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    target = Path(target)
    path = target.parent / f".{target.name}.lock"
    deadline = time.monotonic() + wait
    while True:
        fd = _open_lock(path)
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
    try:
        stale = _holder(fd)
        if os.fstat(fd).st_size and not stale:
            raise RnnForecastError(
                f"{path}: is not a lock file rnnforecast wrote; remove it or choose another --out"
            )
    except BaseException:
        os.close(fd)
        raise
    if stale and on_note is not None:
        on_note(
            f"took over the lock of a run that did not finish (PID {stale.get('pid', '?')}, "
            f"started {stale.get('started', '?')})"
        )
    me = {
        "pid": os.getpid(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "command": " ".join(sys.argv[:3])[:200],
    }
    try:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode(), 0)
        except OSError as e:  # a full disk, a quota: before any work, not after it
            raise _write_error(path, e) from None
        yield
    finally:
        with _shielded():
            if _same_file(fd, path):
                path.unlink(missing_ok=True)  # before unlocking: a waiter re-opens a fresh file
            os.close(fd)


def _open_lock(path: Path) -> int:
    """Open (or create) the lock file itself: never through a link, never a special file."""
    flags = os.O_RDWR | os.O_CREAT | _SAFE
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise RnnForecastError(
                f"{path}: is a symbolic link where rnnforecast keeps its lock; remove it"
            ) from None
        raise RnnForecastError(
            f"{path}: cannot create the lock file ({e.strerror}); choose another --out"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RnnForecastError(
            f"{path}: is not a regular file where rnnforecast keeps its lock; remove it"
        )
    return fd


def _holder(fd: int) -> dict:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) and "pid" in holder else {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.lstat(path).st_ino
    except FileNotFoundError:
        return False
