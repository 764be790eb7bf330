"""sweeps.yaml's labs: each lab's experiments, their params as DVC reads them back, and LAB-best."""

import shutil
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from imgclf.config.params import AugmentParams, EarlyStoppingParams, MlpParams, Params, parse_params
from imgclf.errors import PipelineError
from imgclf.experiments.labs import (
    apply,
    best_combination,
    check,
    experiments,
    load_labs,
    pinned,
    set_param_args,
    set_param_values,
)
from tests.helpers import REPO

PHOTOS = {"data.folder": "photos"}
LAB_SETUPS = {  # (lab, experiment): the setup its lab's own text names, key by key
    ("mnist_mlp", "mnist_mlp-base"): {
        "data.dataset": "mnist", "split.val_fraction": 0.2,
        "train.mlp": MlpParams((800,), "relu", "random_normal", 0.0),
        "train.optimizer": "sgd", "train.lr": 0.01, "train.momentum": 0.0, "train.schedule": "constant",
        "train.batch_size": 200, "train.epochs": 100,
    },
    ("cifar10_cnn", "cifar10_cnn-base"): {
        "split.val_fraction": 0.1, "train.model": "cnn", "train.cnn.conv_blocks": 2,
        "train.optimizer": "sgd", "train.lr": 0.01, "train.momentum": 0.9, "train.nesterov": True,
        "train.schedule": "inverse_time", "train.decay": 1e-6,  # SGD(decay=1e-6)
        "train.batch_size": 32, "train.epochs": 25, "train.augment.enabled": False,
        "train.early_stopping.enabled": False,
    },
    ("convpool", "convpool-base"): {
        "train.convpool.filters": (16, 32, 64, 128), "train.convpool.kernel_sizes": (3, 3, 3, 3),
        "train.convpool.padding": ("same", "same", "same", "valid"), "train.convpool.activation": "linear",
        "train.convpool.dense_units": (512,), "train.optimizer": "sgd", "train.lr": 0.01, "train.momentum": 0.0,
        "train.schedule": "constant", "train.batch_size": 128, "train.epochs": 2,
    },
    ("early_stopping", "early_stopping-base"): {
        "train.optimizer": "adam", "train.lr": 0.001, "train.batch_size": 200, "train.epochs": 25,
        "split.val_fraction": 0.2, "train.early_stopping": EarlyStoppingParams(True, "val_accuracy", 2, False),
    },
    ("photos", "photos-model-mlp"): {
        "preprocess.image_size": 32, "train.model": "mlp", "train.mlp.hidden_units": (1024, 512),
        "train.mlp.activation": "sigmoid", "train.optimizer": "sgd", "train.lr": 0.01, "train.schedule": "constant",
        "train.batch_size": 32, "train.epochs": 75, "train.augment.enabled": False,
    },
    ("photos", "photos-base"): {
        "preprocess.image_size": 64, "train.model": "smallvgg", "train.schedule": "inverse_time",
        "train.batch_size": 32, "train.epochs": 75, "train.decay": pytest.approx(0.01 / 75, rel=0.01),
        "train.augment": AugmentParams(True, 30, 0.1, 0.2, 0.2, True, False, "bilinear"), "split.test_fraction": 0.25,
        "split.seed": 42,
    },
}  # fmt: skip


def values(runs, key) -> list:
    return [run.overrides[key] for run in runs]


def test_each_lab_sweeps_what_its_lab_varies(labs):
    mnist = labs["mnist_mlp"]
    assert values(experiments(mnist, only_sweep=1), "train.epochs") == [50, 75, 100, 125]
    assert values(experiments(mnist, only_sweep=2), "train.batch_size") == [50, 100, 200, 400]
    assert values(experiments(mnist, only_sweep=3), "train.mlp.hidden_units") == [[500], [700], [900], [1200]]
    second = values(experiments(mnist, only_sweep=4), "train.mlp.hidden_units")
    assert second == [[800, 500], [800, 700], [800, 900], [800, 1200]]
    cifar = labs["cifar10_cnn"]
    assert values(experiments(cifar, only_sweep=1), "train.lr") == [0.01, 0.02, 0.05, 0.1]
    assert values(experiments(cifar, only_sweep=2), "train.epochs") == [15, 20, 25, 30]
    assert values(experiments(cifar, only_sweep=3), "train.cnn.conv_blocks") == [1, 2]
    convpool = labs["convpool"]
    depth = experiments(convpool, only_sweep=1)
    assert values(depth, "train.convpool.filters") == [[16, 32], [16, 32, 64], [16, 32, 64, 128]]  # the first N
    assert values(depth, "train.convpool.padding")[-1] == ["same", "same", "same", "valid"]
    assert {len(f) for f in values(depth, "train.convpool.dense_units")} == {1}
    dense = values(experiments(convpool, only_sweep=2), "train.convpool.dense_units")
    assert dense == [[512], [512, 256], [512, 256, 128], [512, 256, 128, 64]]
    kernels = values(experiments(convpool, only_sweep=3), "train.convpool.kernel_sizes")
    assert kernels == [[3, 3, 3, 3], [7, 5, 3, 3]]
    stopping = labs["early_stopping"]
    assert values(experiments(stopping, only_sweep=1), "train.early_stopping.patience") == [1, 2, 5]
    assert values(experiments(stopping, only_sweep=2), "train.early_stopping.restore_best_weights") == [False, True]
    photos = experiments(labs["photos"], extra=PHOTOS)
    assert set(values(photos, "train.model")) == {"mlp", "smallvgg"}
    assert set(values(photos, "train.augment.enabled")) == set(values(photos, "train.early_stopping.enabled"))
    assert set(values(photos, "train.augment.enabled")) == {False, True}


def lab_params(labs, raw, lab: str, name: str) -> Params:
    """The params one experiment of a lab trains with: the committed params.yaml, the lab's base, its point."""
    run = next(r for r in experiments(labs[lab], extra=PHOTOS if lab == "photos" else None) if r.name == name)
    return parse_params(apply(raw, run.overrides))


@pytest.mark.parametrize(("lab", "experiment"), LAB_SETUPS, ids=[e for _, e in LAB_SETUPS])
def test_each_lab_base_is_exactly_the_setup_the_lab_names(labs, raw, lab, experiment):
    """The setups of the labs' own texts; a params.yaml default can change without changing any lab."""
    params = lab_params(labs, raw, lab, experiment)
    for key, expected in LAB_SETUPS[lab, experiment].items():
        value = params
        for part in key.split("."):
            value = getattr(value, part)
        assert value == expected, key


def test_published_results_name_experiments_of_their_lab(labs, tmp_path: Path):
    assert labs["convpool"].published["convpool-dense_units-512x256x128x64"] == "(4, 4) 29.53% / 1.9575"
    assert labs["early_stopping"].published["early_stopping-base"].startswith("stopped after epoch 10")
    text = "lab:\n  title: t\n  base: {train.lr: 0.1}\n  tiny: {}\n  sweeps: [{train.lr: [0.1, 1]}]\n"
    (tmp_path / "sweeps.yaml").write_text(text + "  published: {lab-lr-2: 90%}\n")
    with pytest.raises(PipelineError, match="lab.published: no experiment lab-lr-2; the lab's are lab-base, lab-lr-1"):
        load_labs(tmp_path / "sweeps.yaml")


def test_an_experiment_two_sweeps_share_runs_once_as_base(labs):
    runs = experiments(labs["mnist_mlp"])
    assert len(runs) == 15 and len({r.name for r in runs}) == 15  # 100 epochs = batch 200 = the base
    base = next(r for r in runs if r.name == "mnist_mlp-base")
    assert (base.overrides["train.epochs"], base.overrides["train.batch_size"]) == (100, 200)
    assert [r.name for r in experiments(labs["mnist_mlp"], only_sweep=2)] == [
        "mnist_mlp-batch_size-50",
        "mnist_mlp-batch_size-100",
        "mnist_mlp-base",
        "mnist_mlp-batch_size-400",
    ]


def test_every_experiment_is_valid_params_full_size_and_tiny(labs, raw):
    for lab in labs.values():
        extra = PHOTOS if lab.name == "photos" else None
        check(raw, experiments(lab, extra=extra))
        tiny = experiments(lab, tiny=True, extra=extra)
        check(raw, tiny)
        assert all(run.overrides["preprocess.max_per_class"] > 0 for run in tiny)
        if lab.name != "photos":
            assert all(run.overrides["data.dataset"] == "mnist_5k" for run in tiny), "tiny runs offline"


def test_dvc_reads_every_set_param_back_as_meant(labs, raw, tmp_path: Path):
    for lab in labs.values():
        for run in experiments(lab, tiny=True, extra=PHOTOS if lab.name == "photos" else None):
            shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
            apply_overrides(tmp_path / "params.yaml", set_param_values(run.overrides))
            written = parse_params(yaml.safe_load((tmp_path / "params.yaml").read_text()))  # DVC writes 1e-06
            assert written == parse_params(apply(raw, run.overrides)), run.name


def test_photo_lab_needs_your_folder_and_says_so(labs, raw):
    with pytest.raises(PipelineError, match="dataset folder needs data.folder"):
        check(raw, experiments(labs["photos"], tiny=True))


def test_overriding_a_swept_key_or_a_missing_sweep_is_refused(labs):
    with pytest.raises(PipelineError, match="-S train.epochs: lab mnist_mlp sweeps this key"):
        experiments(labs["mnist_mlp"], extra={"train.epochs": 5})
    with pytest.raises(PipelineError, match="--sweep 5: lab mnist_mlp has sweeps 1 to 4"):
        experiments(labs["mnist_mlp"], only_sweep=5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lab:\n  title: t\n  base: {train.lr: 0.1}\n  tiny: {}\n  sweeps: [{train.lr: [1, 2], train.epochs: [1]}]",
         r"lab.sweeps\[0\]: keys that change together need as many values each; got \[1, 2\]"),
        ("lab:\n  title: t\n  base: {}\n  tiny: {}\n  sweeps: [{train.lr: [1, 2]}]",
         "lab.base: set train.lr too"),
        ("lab:\n  title: t\n  base: {}\n  sweeps: []", "lab: must have the keys title, base, sweeps, tiny"),
    ],
)  # fmt: skip
def test_a_malformed_sweeps_file_is_named(tmp_path: Path, text: str, message: str):
    (tmp_path / "sweeps.yaml").write_text(text)
    with pytest.raises(PipelineError, match=message):
        load_labs(tmp_path / "sweeps.yaml")


def test_best_combination_takes_each_sweeps_best_value(labs):
    lab = labs["mnist_mlp"]
    accuracy = {run.name: 0.9 for run in experiments(lab)}
    accuracy |= {"mnist_mlp-epochs-125": 0.95, "mnist_mlp-batch_size-50": 0.94}
    accuracy |= {"mnist_mlp-hidden_units-1200": 0.93, "mnist_mlp-hidden_units-800x900": 0.96}  # the second wins
    best = best_combination(lab, accuracy)
    assert best.name == "mnist_mlp-best"
    assert best.point == {"train.epochs": 125, "train.batch_size": 50, "train.mlp.hidden_units": [800, 900]}
    assert best.overrides["train.optimizer"] == "sgd" and best.overrides["train.epochs"] == 125
    with pytest.raises(PipelineError, match="--best: no experiment of sweep 2 has finished"):
        best_combination(lab, {"mnist_mlp-epochs-50": 0.9})


def test_a_changed_workspace_never_leaks_into_a_lab_experiment(labs, raw):
    """Every key is set on the queue command line: the committed params.yaml, the lab's base, the point."""
    run = experiments(labs["mnist_mlp"], only_sweep=2)[0]
    args = set_param_args(pinned(raw, run))
    assert len(args) // 2 == sum(1 for _ in pinned(raw, run)) and "train.seed=42" in args
    assert 'train.optimizer="sgd"' in args and "train.batch_size=50" in args


def test_best_combination_never_mixes_two_sweeps_of_one_key(labs, raw):
    """Depth zips filters with kernel sizes; the kernel sweep varies kernel sizes alone. If the kernel sweep's best
    beats the depth sweep's, taking 7-5-3-3 with the 2-block filters would be no network at all."""
    lab = labs["convpool"]
    accuracy = {run.name: 0.3 for run in experiments(lab)}
    accuracy |= {"convpool-filters-16x32": 0.35, "convpool-kernel_sizes-7x5x3x3": 0.38}
    best = best_combination(lab, accuracy)
    assert best.point == {"train.convpool.kernel_sizes": [7, 5, 3, 3], "train.convpool.dense_units": [512]}
    check(raw, [best])


SHARED = """
fast:
  title: a fast recipe
  base: &fast
    train.epochs: 10
    train.lr: 0.8
  sweeps: []
  tiny: &tiny {data.dataset: mnist_5k, preprocess.max_per_class: 20}
full:
  title: the same, longer
  base:
    <<: *fast
    train.epochs: 16
  sweeps: []
  tiny: *tiny
"""


def test_labs_share_blocks_through_anchors_and_merge_keys(tmp_path: Path):
    (tmp_path / "sweeps.yaml").write_text(SHARED)
    labs = load_labs(tmp_path / "sweeps.yaml")
    assert labs["full"].base == {"train.epochs": 16, "train.lr": 0.8}, "the merged block, its own key on top"
    assert labs["fast"].base == {"train.epochs": 10, "train.lr": 0.8}
    assert labs["full"].tiny == labs["fast"].tiny == {"data.dataset": "mnist_5k", "preprocess.max_per_class": 20}


def test_a_sweeps_file_whose_aliases_expand_without_bound_is_refused_at_once(tmp_path: Path):
    bomb = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'lol'}]\n" for i in range(9))
    (tmp_path / "sweeps.yaml").write_text(bomb)
    with pytest.raises(PipelineError, match=r"sweeps.yaml line 1: its aliases expand to more than 100,000 values"):
        load_labs(tmp_path / "sweeps.yaml")  # counted on the file's nodes, never expanded
    (tmp_path / "sweeps.yaml").write_text("a: &a [1, *a]\n")
    with pytest.raises(PipelineError, match="expand to more than"):
        load_labs(tmp_path / "sweeps.yaml")
