"""fsutil: the lock, the temporary directory and the swap never write through a link or into a
file rnnforecast did not create."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
import sys

import pytest

from rnnforecast import fsutil
from rnnforecast.errors import RnnForecastError


def test_lock_never_truncates_a_file_it_did_not_write(tmp_path):
    lock = tmp_path / ".model.lock"
    lock.write_text("a user's notes that happen to sit here")
    with pytest.raises(RnnForecastError, match=r"\.model\.lock: is not a lock file rnnforecast"):
        with fsutil.locked(tmp_path / "model"):
            pass
    assert lock.read_text() == "a user's notes that happen to sit here"


def test_lock_refuses_a_special_file(tmp_path):
    os.mkfifo(tmp_path / ".model.lock")
    with pytest.raises(RnnForecastError, match="is not a regular file where rnnforecast keeps"):
        with fsutil.locked(tmp_path / "model"):
            pass
    assert stat.S_ISFIFO(os.lstat(tmp_path / ".model.lock").st_mode)


def test_replacing_a_link_replaces_the_link_not_its_target(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "theirs.txt").write_text("kept")
    link = tmp_path / "out"
    link.symlink_to(other)
    new = tmp_path / "new"
    new.mkdir()
    (new / "ours.txt").write_text("new")
    fsutil.replace_dir(new, link)
    assert not link.is_symlink() and (link / "ours.txt").read_text() == "new"
    assert (other / "theirs.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "out"]  # no link left over


def test_the_temporary_directory_is_private_until_the_swap(tmp_path):
    target = tmp_path / "model"
    with fsutil.staged_dir(target, fsutil.MODEL_DIR) as tmp:
        assert stat.S_IMODE(os.stat(tmp).st_mode) & 0o077 == 0  # no one else can plant links
        fsutil.write_new(tmp, "manifest.json", b"{}")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o777 & ~mask


def test_new_files_are_never_written_through_a_link(tmp_path):
    precious = tmp_path / "precious"
    precious.write_text("kept")
    (tmp_path / "planted").symlink_to(precious)
    with pytest.raises(FileExistsError):
        fsutil.write_new(tmp_path, "planted", b"overwritten?")
    assert precious.read_text() == "kept"


# --- the swap: a new model directory into the place of the old one ----------------------------

FILES = ("config.yaml", "weights.safetensors", "plots/p.png")  # a folder too: moved whole


def model_dir(folder, text: str) -> None:
    """A model directory in `folder` as far as fsutil knows one: its marker lists its files."""
    manifest = {"format": "rnnforecast-model", "files": dict.fromkeys(FILES, "")}
    fsutil.write_new(folder, "manifest.json", json.dumps(manifest).encode())
    (folder / "plots").mkdir()
    for name in FILES:
        fsutil.write_new(folder, name, text.encode())


def tree(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def old_model(tmp_path):
    """`model`, an old model directory, alone in tmp_path; tree() of it."""
    target = tmp_path / "model"
    target.mkdir()
    model_dir(target, "old")
    return target, tree(target)


@pytest.fixture
def renames(monkeypatch) -> list[tuple[str, str]]:
    """The os.rename calls made, by name (they still happen)."""
    calls, rename = [], os.rename

    def spy(src, dst, *args, **kwargs):
        calls.append((os.path.basename(src), os.path.basename(dst)))
        return rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", spy)
    return calls


def swap_in(target, text: str = "new") -> int:
    """Write a new model directory for `target` and swap it in; its inode."""
    with fsutil.staged_dir(target, fsutil.MODEL_DIR) as tmp:
        model_dir(tmp, text)
        return os.stat(tmp).st_ino


def libc_with(renameat2):
    """A stand-in for ctypes.CDLL whose libc has this `renameat2` (None: has none)."""

    class Libc:
        def __init__(self, *args, **kwargs):
            if renameat2 is not None:
                self.renameat2 = renameat2

    return Libc


def failing(code: int):
    """A renameat2 that fails with errno `code`, as the kernel or file system may."""

    def renameat2(*args):
        ctypes.set_errno(code)
        return -1

    return renameat2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_the_new_directory_is_exchanged_in_one_call(tmp_path, old_model, renames, monkeypatch):
    """On Linux the new directory and the old are swapped by one renameat2(RENAME_EXCHANGE)
    (no moment without a directory there, no rename): the new one is in place, the old
    contents are gone, and nothing is left beside the target."""
    target, _ = old_model
    exchanged, exchange = [], fsutil._exchange
    monkeypatch.setattr(fsutil, "_exchange", lambda a, b: exchanged.append(exchange(a, b)) or True)
    new = swap_in(target)
    assert exchanged == [True] and renames == []
    assert os.stat(target).st_ino == new  # the directory written, not a copy
    assert tree(target) == tree_of("new")
    assert os.listdir(tmp_path) == ["model"]


def tree_of(text: str) -> dict[str, str]:
    """What tree() finds in a model_dir(..., text)."""
    manifest = json.dumps({"format": "rnnforecast-model", "files": dict.fromkeys(FILES, "")})
    return {"manifest.json": manifest, **dict.fromkeys(FILES, text)}


FALLBACKS = {
    "no exchange": lambda patch: patch.setattr(fsutil, "_exchange", lambda a, b: False),
    "libc without renameat2": lambda patch: patch.setattr(ctypes, "CDLL", libc_with(None)),
    "kernel without renameat2": lambda patch: patch.setattr(
        ctypes, "CDLL", libc_with(failing(errno.ENOSYS))
    ),
    "file system without exchange": lambda patch: patch.setattr(
        ctypes, "CDLL", libc_with(failing(errno.EINVAL))
    ),
}


@pytest.mark.parametrize("without", FALLBACKS)
def test_without_the_exchange_the_old_directory_is_moved_aside(
    tmp_path, old_model, renames, monkeypatch, without
):
    """Where the exchange is unavailable, the old directory is renamed aside, the new one
    into its place, and the old one removed: the same end, nothing left beside the target."""
    target, _ = old_model
    FALLBACKS[without](monkeypatch)
    new = swap_in(target)
    assert len(renames) == 2
    (old, aside), (tmp, into) = renames
    assert (old, into) == ("model", "model") and aside.endswith(".old") and tmp.endswith(".tmp")
    assert os.stat(target).st_ino == new
    assert tree(target) == tree_of("new")
    assert os.listdir(tmp_path) == ["model"]


def test_a_failure_while_writing_leaves_the_old_directory(tmp_path, old_model):
    """An error half way through writing the new directory: the old one is as it was and
    the half-written one is gone."""
    target, before = old_model
    with pytest.raises(RuntimeError, match="half way"):
        with fsutil.staged_dir(target, fsutil.MODEL_DIR) as tmp:
            fsutil.write_new(tmp, "config.yaml", b"new")
            raise RuntimeError("half way")
    assert tree(target) == before
    assert os.listdir(tmp_path) == ["model"]


def fail_exchange(patch) -> None:
    patch.setattr(ctypes, "CDLL", libc_with(failing(errno.EIO)))


def fail_second_rename(patch) -> None:
    """No exchange, and the rename of the new directory into place fails (after the old one
    was moved aside)."""
    patch.setattr(fsutil, "_exchange", lambda a, b: False)
    rename = os.rename

    def refused(src, dst, *args, **kwargs):
        if os.fspath(src).endswith(".tmp"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(dst))
        return rename(src, dst, *args, **kwargs)

    patch.setattr(os, "rename", refused)


@pytest.mark.parametrize("fail", [fail_exchange, fail_second_rename])
def test_a_failed_swap_leaves_the_old_directory(tmp_path, old_model, monkeypatch, fail):
    """The swap itself failing (the exchange, or without it the rename into place): the old
    directory is at the target as it was, the error says nothing was replaced, and nothing
    is left beside the target."""
    target, before = old_model
    fail(monkeypatch)
    with pytest.raises(RnnForecastError, match=r"could not be written .*nothing was replaced"):
        swap_in(target)
    assert tree(target) == before
    assert os.listdir(tmp_path) == ["model"]
