import os
import stat
from pathlib import Path

import pytest

from imgclf.atomic import atomic_dir, atomic_path, write_json, write_text


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "out" / "metrics.json"
    write_json(target, {"accuracy": 0.5})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == '{\n  "accuracy": 0.5\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_temporary_keeps_the_suffix_so_writers_that_check_it_work(tmp_path: Path):
    with atomic_path(tmp_path / "model.keras") as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert (tmp_path / "model.keras").read_bytes() == b"x"


def test_directory_is_replaced_whole_or_not_at_all(tmp_path: Path):
    target = tmp_path / "raw"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_dir(target) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"]


def test_outputs_get_the_usual_permissions_not_private_temporary_ones(tmp_path: Path):
    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "metrics.json", "{}")
        with atomic_dir(tmp_path / "prepared") as tmp:
            (tmp / "train.npz").write_bytes(b"")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "prepared").stat().st_mode) == 0o755


def test_rewriting_an_output_clears_what_a_killed_writer_left_of_it(tmp_path: Path):
    """A SIGKILL mid-write leaves the temporary; the stage's next run, writing the same output, removes it."""
    (tmp_path / ".val.npz.k1ll3d.tmp.npz").write_bytes(b"half of a split")
    (tmp_path / ".prepared.k1ll3d.tmp").mkdir()
    (tmp_path / ".prepared.k1ll3d.tmp" / "train.npz").write_bytes(b"half of the data")
    (tmp_path / ".train.npz.k1ll3d.tmp.npz").write_bytes(b"another output's: left alone")
    (tmp_path / ".gitignore").write_text("/prepared\n")
    write_text(tmp_path / "val.npz", "whole")
    with atomic_dir(tmp_path / "prepared") as folder:
        (folder / "train.npz").write_text("whole")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".gitignore", ".train.npz.k1ll3d.tmp.npz", "prepared", "val.npz"]
