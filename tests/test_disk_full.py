"""A full disk is one line, never a crash, and the last good training backup is kept: ENOSPC injected at the write,
and a real small file system where this machine lets a test mount one."""

import dataclasses
import errno
import importlib
import inspect
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from imgclf.cli import COMMAND, exit_on_error
from imgclf.command import SUBCOMMANDS
from imgclf.command import main as command_main
from imgclf.disk_space import DiskFull
from imgclf.fitting.resume import SAVING_FILE, EpochBackup
from imgclf.modeling.model_file import save_model
from tests.helpers.train_stage import run_train_stage, twelve_epochs_on_four_shards


def test_a_write_that_finds_the_disk_full_is_one_line(capsys):
    def writes_into_a_full_disk() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "data/split/train/shard-0003.npz")

    with pytest.raises(SystemExit) as stopped:
        exit_on_error(writes_into_a_full_disk)
    assert stopped.value.code == (
        "error: the disk is full (writing data/split/train/shard-0003.npz); nothing half-written is kept: free some "
        "space (df -h shows where), then run the stage again"
    )

    def h5py_on_a_full_disk() -> None:  # h5py's own error, without an errno
        raise RuntimeError("Can't synchronously write data (file write failed: errno = 28, No space left on device)")

    with pytest.raises(SystemExit) as stopped:
        exit_on_error(h5py_on_a_full_disk)
    assert str(stopped.value.code).startswith("error: the disk is full (writing an output)")


def test_an_interrupted_or_disk_full_command_says_to_run_the_command_not_a_stage(monkeypatch):
    def interrupted() -> None:
        raise KeyboardInterrupt

    def disk_full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "predictions.csv")

    with pytest.raises(SystemExit) as stopped:
        exit_on_error(interrupted)  # a stage: `dvc repro` runs it again and it finishes (train resumes)
    assert stopped.value.code == "interrupted: no output was left half-written; run the stage again to finish it"
    for main in (interrupted, disk_full):
        with pytest.raises(SystemExit) as stopped:
            exit_on_error(main, rerun=COMMAND)
        assert "run the command again" in stopped.value.code and "stage" not in stopped.value.code


@pytest.mark.parametrize("subcommand", sorted(SUBCOMMANDS))
def test_every_command_a_user_types_ends_as_a_command_not_a_stage(subcommand: str):
    """`imgclf NAME` and `python -m MODULE` alike: neither may tell a user of predict to run a stage again."""
    source = inspect.getsource(importlib.import_module(SUBCOMMANDS[subcommand][0]))
    assert source.rstrip().endswith("exit_on_error(main, rerun=COMMAND)"), subcommand


def test_the_imgclf_command_ends_an_interrupted_subcommand_as_a_command(monkeypatch):
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sys.argv", ["imgclf", "predict", "photos/"])
    monkeypatch.setattr("imgclf.command.importlib.import_module", lambda name: SimpleNamespace(main=interrupted))
    with pytest.raises(SystemExit) as stopped:
        command_main()
    assert stopped.value.code == "interrupted: no output was left half-written; run the command again to finish it"


def small_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((8, 4)), np.zeros((8, 3)), epochs=1, verbose=0)
    return model


def backed_up(folder: Path) -> EpochBackup:
    backup = EpochBackup(folder, every_s=0, live_dir=None)
    backup.set_model(small_model())
    backup.set_params({"epochs": 10})
    backup.on_epoch_end(0)
    return backup


def test_a_backup_the_disk_has_no_room_for_stops_training_and_keeps_the_last_good_one(tmp_path: Path, monkeypatch):
    backup = backed_up(tmp_path)
    latest = (tmp_path / "latest.weights.h5").read_bytes()
    monkeypatch.setattr("imgclf.disk_space.free_bytes", lambda folder: 1024)
    with pytest.raises(DiskFull) as stopped:
        backup.on_epoch_end(1)
    assert str(stopped.value).startswith(f"{tmp_path}: 0.0 MB free, a backup of this epoch needs about 4.0 MB; ")
    assert str(stopped.value).endswith("run the stage again: it resumes from the last epoch backed up")
    assert (tmp_path / "latest.weights.h5").read_bytes() == latest
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == 1


def test_a_disk_that_fills_during_a_backup_leaves_no_part_of_it(tmp_path: Path, monkeypatch):
    backup = backed_up(tmp_path)
    latest = (tmp_path / "latest.weights.h5").read_bytes()

    def fills(path: str, overwrite: bool = True) -> None:
        Path(path).write_bytes(b"\x89HDF\r\n" + bytes(100))  # a start, cut short
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(backup.model, "save_weights", fills)
    with pytest.raises(DiskFull, match="the disk filled while backing up an epoch"):
        backup.on_epoch_end(1)
    assert not (tmp_path / SAVING_FILE).exists()
    assert (tmp_path / "latest.weights.h5").read_bytes() == latest, "the last good backup, whole"
    assert json.loads((tmp_path / "training_metadata.json").read_text())["epoch"] == 1


def test_the_final_save_checks_for_room_first(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("imgclf.disk_space.free_bytes", lambda folder: 1024)
    with pytest.raises(DiskFull, match="the trained model needs about"):
        save_model(small_model(), ("a", "b", "c"), tmp_path / "models")
    assert not (tmp_path / "models" / "model.keras").exists()


def test_train_on_a_full_disk_says_so_in_one_line_and_leaves_no_partial_backup(tmp_path: Path, small_disk: Path):
    twelve_epochs_on_four_shards(tmp_path)
    (tmp_path / "models").symlink_to(small_disk)
    stage = run_train_stage(tmp_path)
    _, err = stage.communicate(timeout=300)
    lines = err.decode().strip().splitlines()
    assert stage.returncode == 1, f"a line and exit 1, not a crash: {err.decode()[-2000:]}"
    assert len(lines) == 1 and lines[0].startswith("error: models/.resume: 0.")
    assert "a backup of this epoch needs about" in lines[0]
    left = sorted(p.name for p in (small_disk / ".resume").iterdir())
    assert SAVING_FILE not in left and "latest.weights.h5" not in left, "nothing that could pass for a backup"
    shutil.rmtree(small_disk / ".resume")


def test_an_annotated_image_on_a_full_disk_is_an_error_not_a_silent_stub(tmp_path: Path, small_disk: Path):
    import cv2

    from imgclf.serving.annotate import annotate

    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    with pytest.raises(OSError) as full:
        annotate(photo, [("cat", 0.9)], small_disk / "photo.png")
    assert full.value.errno == errno.ENOSPC
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"], "no stub, no temporary"


def test_preprocess_on_a_full_disk_is_one_line_naming_its_output_and_leaves_nothing(
    tmp_path: Path, small_disk: Path, params
):
    import cv2

    from imgclf.data.fetch import fetch
    from imgclf.data.preprocess import preprocess

    rng = np.random.default_rng(0)
    for i in range(12):
        folder = tmp_path / "photos" / ("cats", "dogs", "panda")[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = dataclasses.replace(params.data, dataset="folder", folder=str(tmp_path / "photos"))
    prep = dataclasses.replace(params.preprocess, image_size=64)  # 12 x 12 KB of shards: more than is free
    fetch(data, tmp_path / "raw")
    with pytest.raises(SystemExit) as stopped:
        exit_on_error(lambda: preprocess(data, prep, tmp_path / "raw", small_disk / "prepared"))
    assert stopped.value.code == (
        f"error: the disk is full (writing {small_disk / 'prepared'}); nothing half-written is kept: free some "
        "space (df -h shows where), then run the stage again"
    )
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"], "no partial output, no temporary"


def test_a_long_error_is_a_short_line_with_details_after():
    from imgclf.errors import PipelineError

    config = '{"class_name": "Lambda", "config": {"function": "os.system"' + ", 0" * 400 + "}}"

    def refuses() -> None:
        raise PipelineError(f"models/model.keras: refused: its config names code that would run: {config}")

    with pytest.raises(SystemExit) as stopped:
        exit_on_error(refuses)
    first, details = str(stopped.value.code).split("\n")
    assert first == "error: models/model.keras: refused: its config names code that would run:"
    assert details.startswith('  details: {"class_name": "Lambda"') and details.endswith("}}")
