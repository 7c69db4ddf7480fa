"""An output that cannot be written (no space, no permission, a read-only folder) ends like every other error:
one line naming the path and the cause, exit code 3, no half-written file; rerun once the cause is gone, the
work resumes without redoing what was finished."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tms.files
import tms.folders
from tms.cli import main


def _leftovers(root: Path) -> list[Path]:
    """Temporary files or folders (dot-names) anywhere below ``root``."""
    return [p for p in root.rglob(".*")]


def _reproduce(out: Path, capsys) -> tuple[int, str]:
    code = main(["reproduce", "intro", "--quick", "--out", str(out), "--no-progress"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("target", ["model.safetensors", "features.csv", "intro_geometry.csv", "intro_vectors.png",
                                    "intro_configurations.svg", "reproduce.json", "claims.json", "report.html"])
def test_a_failing_write_is_one_line_exit_3_and_a_rerun_resumes(tmp_path, capsys, monkeypatch, target):
    real_replace = os.replace

    def no_space(src, dst):
        if Path(dst).name == target or (target == "model.safetensors" and (Path(src) / target).exists()):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr(tms.files.os, "replace", no_space)
    out = tmp_path / "results"
    code, err = _reproduce(out, capsys)
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"tms: error: cannot write {out}") and err.strip().endswith("No space left on device")
    named = Path(err.split("cannot write ", 1)[1].rsplit(":", 1)[0])
    assert named.name in (target, "intro") and not named.name.startswith(".")
    assert not _leftovers(out), _leftovers(out)
    assert not [p for p in out.rglob(target)], "a half-written file was left"

    # Space again: the rerun finishes, and the run that was stored is not trained again.
    monkeypatch.setattr(tms.files.os, "replace", real_replace)
    stored = out / "intro" / "model.safetensors"
    mtime = stored.stat().st_mtime_ns if stored.exists() else None
    trained = []
    real_train = tms.folders.train
    monkeypatch.setattr(tms.folders, "train", lambda cfg, **kw: trained.append(cfg) or real_train(cfg, **kw))
    code, err = _reproduce(out, capsys)
    assert code == 0, err
    assert (out / "report.html").is_file() and (out / "intro" / "figures" / "intro_vectors.png").is_file()
    if mtime is not None:
        assert stored.stat().st_mtime_ns == mtime and trained == []
    else:
        assert len(trained) == 1


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    """A small tmpfs (root only): the real thing, not a patched writer."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if not _mount_tmpfs(mnt, "size=16k"):
        pytest.skip("needs root and tmpfs to mount a small file system")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


def _remount(mnt: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True, capture_output=True)


def test_a_full_disk_then_more_space(tiny_disk, capsys):
    out = tiny_disk / "results"
    for size in ("16k", "48k", "160k", "400k"):  # the run folder, the tables, the figures, the report
        _remount(tiny_disk, f"size={size}")
        code, err = _reproduce(out, capsys)
        assert code == 3 and err.strip().endswith("No space left on device"), (size, err)
        assert len(err.strip().splitlines()) == 1 and not _leftovers(tiny_disk)
    _remount(tiny_disk, "size=64m")
    code, err = _reproduce(out, capsys)
    assert code == 0, err
    assert (out / "REPORT.md").is_file() and not _leftovers(tiny_disk)


def test_a_read_only_folder(tiny_disk, capsys):
    _remount(tiny_disk, "ro")
    code, err = _reproduce(tiny_disk / "results", capsys)
    assert code == 3 and err.strip() == f"tms: error: cannot write {tiny_disk / 'results'}: Read-only file system"


def test_the_console_script_exits_3(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a folder must go
    p = subprocess.run([sys.executable, "-m", "tms.cli", "train", "-n", "2", "-m", "1", "--densities", "1", "--steps",
                        "2", "--out", str(blocker / "run")], capture_output=True, text=True)
    assert p.returncode == 3 and p.stderr.startswith(f"tms: error: cannot write {blocker}: ")
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "file").is_dir()


def test_atomic_writes_get_the_permissions_of_an_ordinary_write(tmp_path):
    # the temporary file and folder are private (mkstemp 0600, mkdtemp 0700); what lands is 0666/0777 & ~umask
    umask = tms.files._UMASK
    f = tms.files.atomic_write_text(tmp_path / "a.txt", "x")
    assert f.stat().st_mode & 0o777 == 0o666 & ~umask
    with tms.files.atomic_folder(tmp_path / "run") as tmp:
        (tmp / "inside").write_text("y")
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "run" / "inside").read_text() == "y"
