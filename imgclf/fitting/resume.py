"""Resuming a killed training run: each completed epoch backed up (Keras' BackupAndRestore) with a copy of the DVCLive
log, under a fingerprint of the params, data and code the backup belongs to."""

import dataclasses
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import keras

from imgclf.atomic import atomic_dir, write_json
from imgclf.config.params import TrainParams
from imgclf.data.shards import Shards
from imgclf.disk_space import DiskFull, ensure_free, is_disk_full
from imgclf.modeling.model_file import weights_bytes

FINGERPRINT_FILE = "fingerprint.json"
RESUME_DIR = ".resume"  # in the model folder but no DVC output: DVC leaves it alone between runs
FINE_TUNE_DIR = "fine-tune"  # in RESUME_DIR: the backups of a pretrained model's second phase, with its optimizer
LOG_SNAPSHOT = "dvclive-after-epoch-{}"  # in RESUME_DIR: the DVCLive log as of a backed-up epoch
SAVING_FILE = ".saving.weights.h5"  # in RESUME_DIR: a backup being written, not yet one
AFTER_FULL = "then run the stage again: it resumes from the last epoch backed up"


def fingerprint(params: TrainParams, train_data: Shards, val_data: Shards) -> str:
    """What a backup belongs to: resuming is only right with the same params, data (each set's shard index lists
    its shards' checksums) and code. DVC re-runs train when its code changes; resuming a backup of the old code
    would mix the two, or fail to load its weights into a changed model."""
    digest = hashlib.md5(json.dumps(dataclasses.asdict(params), sort_keys=True).encode(), usedforsecurity=False)
    digest.update(f"{train_data.digest} {val_data.digest}".encode())
    package = Path(__file__).resolve().parents[1]  # imgclf/
    for source in sorted(package.rglob("*.py")):
        digest.update(f"{source.relative_to(package).as_posix()}\0".encode() + source.read_bytes())
    return digest.hexdigest()


def resume_epoch(backup_dir: Path, expected: str) -> int:
    """Epochs completed by an interrupted run of the same params, data and code (0 when there is none, or
    another's, which is removed)."""
    try:
        found = json.loads((backup_dir / FINGERPRINT_FILE).read_text())["fingerprint"]
    except FileNotFoundError:
        found = None
    except (OSError, ValueError, KeyError, TypeError):  # damaged: no run's backup
        found = ""
    if found == expected:
        backed_up = [
            folder / "training_metadata.json"
            for folder in (backup_dir, backup_dir / FINE_TUNE_DIR)
            if (folder / "training_metadata.json").is_file()
        ]
        try:
            return max(int(json.loads(metadata.read_text())["epoch"]) for metadata in backed_up)
        except (OSError, ValueError, KeyError, TypeError):  # killed before its first backup (max of nothing)
            pass
    elif found is not None:
        print(f"{backup_dir}: the backup of an interrupted run with other params, data or code; starting over")
    shutil.rmtree(backup_dir, ignore_errors=True)
    backup_dir.mkdir(parents=True)
    write_json(backup_dir / FINGERPRINT_FILE, {"fingerprint": expected})
    return 0


class EpochBackup(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore, saving a completed epoch at most every `every_s` seconds (and always the last):
    each save costs a fraction of a second, too much to pay after every short epoch. With `live_dir`, a copy of the
    DVCLive log goes with each backup: DVC deletes the log (an output) before it runs train again, and a resumed run
    carries on from the copy that holds exactly the epochs it resumes after (the one before is kept, as Keras keeps
    the weights before, for a kill in mid-save)."""

    def __init__(self, backup_dir: Path, every_s: float, live_dir: Path | None) -> None:
        # double_checkpoint: a kill mid-save falls back to the one before. delete_checkpoint=False: Keras would
        # remove backup_dir at the end of each fit, the fingerprint and fine-tune/ with it, and a pretrained model
        # killed while fine-tuning would start over; train removes the backups once the whole run is done
        super().__init__(str(backup_dir), double_checkpoint=True, delete_checkpoint=False)
        self.backup_dir, self.live_dir = Path(backup_dir), live_dir
        self.every_s, self.last_save = every_s, time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self.last_save >= self.every_s or epoch + 1 == self.params.get("epochs"):
            log_bytes = sum(f.stat().st_size for f in self.live_dir.rglob("*") if f.is_file()) if self.live_dir else 0
            ensure_free(self.backup_dir, weights_bytes(self.model) + log_bytes, "a backup of this epoch", AFTER_FULL)
            if self.live_dir is not None:
                with atomic_dir(self.backup_dir / LOG_SNAPSHOT.format(epoch + 1)) as snapshot:
                    shutil.copytree(self.live_dir, snapshot, dirs_exist_ok=True)
            super().on_epoch_end(epoch, logs)
            self.last_save = time.monotonic()
            if self.live_dir is not None:
                kept = sorted(self.backup_dir.glob(LOG_SNAPSHOT.format("*")), key=lambda p: int(p.name.split("-")[-1]))
                for old in kept[:-2]:
                    shutil.rmtree(old)

    def _save_model(self) -> None:
        """Keras' backup (the weights, then the epoch in training_metadata.json), made safe for a full disk: it is
        written to a temporary file first (on_epoch_end has checked that the disk has room), and only a whole one
        replaces the latest backup, which becomes the one before. A disk that fills anyway stops training in one line
        with the last good backup kept, never inside h5py's writer, which can crash on a full disk."""
        folder = Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        weights, metadata = Path(self._weights_path), Path(self._training_metadata_path)
        saving = folder / SAVING_FILE  # Keras wants a name ending .weights.h5
        try:
            self.model.save_weights(str(saving), overwrite=True)
        except Exception as e:
            saving.unlink(missing_ok=True)
            if is_disk_full(e):
                raise DiskFull(
                    f"{folder}: the disk filled while backing up an epoch; free some space, {AFTER_FULL}"
                ) from None
            raise
        if self.double_checkpoint and weights.exists():
            os.replace(weights, self._prev_weights_path)
            if metadata.exists():
                os.replace(metadata, self._prev_training_metadata_path)
        os.replace(saving, weights)
        write_json(metadata, {"epoch": self._current_epoch, "batch": self._last_batch_seen})


def restore_log(backup_dir: Path, live_dir: Path, epochs_done: int) -> None:
    """The DVCLive log as of the backed-up epoch, in place of whatever the log folder holds now."""
    snapshot = Path(backup_dir) / FINE_TUNE_DIR / LOG_SNAPSHOT.format(epochs_done)
    if not snapshot.is_dir():
        snapshot = Path(backup_dir) / LOG_SNAPSHOT.format(epochs_done)
    with atomic_dir(Path(live_dir)) as restored:
        shutil.copytree(snapshot, restored, dirs_exist_ok=True)


def restore_backup(model: keras.Model, backup_dir: Path) -> None:
    """The weights (and optimizer state) of the last epoch backed up in `backup_dir`."""
    restorer = keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True)
    restorer.set_model(model)
    restorer.on_train_begin()
