"""fsutil: the lock, the temporary directory and the swap never write through a link or into a
file rnnforecast did not create."""

from __future__ import annotations

import os
import stat

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
