"""metrics/timing.json holds an experiment's times; a plain `dvc repro` leaves the committed empty file as it is."""

import json
from pathlib import Path

import pytest

from imgclf.timing import record

EXPERIMENT = {"DVC_EXP_NAME": "lab-base"}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """The committed empty timing file, and a model file to time."""
    timing_file, model_file = tmp_path / "timing.json", tmp_path / "model.keras"
    model_file.write_bytes(b"weights")
    timing_file.write_text("{}\n")
    return timing_file, model_file


def test_an_experiment_records_its_times_with_the_model_they_timed(files: tuple[Path, Path]):
    timing_file, model_file = files
    record(timing_file, "train", {"train_seconds": 4.2}, model_file, env=EXPERIMENT)
    record(timing_file, "export", {"latency_ms": {"onnx": 0.1}}, model_file, env=EXPERIMENT)
    timing = json.loads(timing_file.read_text())
    assert timing["train"] == {"train_seconds": 4.2, "model_md5": "63f4f1e9b725370f459720575cd5f953"}
    assert timing["export"]["latency_ms"] == {"onnx": 0.1}


def test_a_plain_repro_leaves_the_committed_file_unchanged(files: tuple[Path, Path]):
    timing_file, model_file = files
    before = timing_file.stat().st_mtime_ns
    record(timing_file, "train", {"train_seconds": 4.2}, model_file, env={})
    assert timing_file.read_text() == "{}\n" and timing_file.stat().st_mtime_ns == before


def test_a_plain_repro_removes_the_times_an_earlier_experiment_left(files: tuple[Path, Path]):
    timing_file, model_file = files
    record(timing_file, "train", {"train_seconds": 4.2}, model_file, env=EXPERIMENT)
    record(timing_file, "export", {"latency_ms": {"onnx": 0.1}}, model_file, env=EXPERIMENT)
    record(timing_file, "train", {"train_seconds": 5.0}, model_file, env={})
    record(timing_file, "export", {"latency_ms": {"onnx": 0.2}}, model_file, env={})
    assert timing_file.read_text() == "{}\n", "back to the committed bytes"
