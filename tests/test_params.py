import copy
import dataclasses
import os
import shutil
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from imgclf.config.params import Params, load_params, parse_params
from imgclf.errors import PipelineError
from tests.helpers import REPO

MEMORY_MB = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20


def error_of(raw: dict) -> str:
    with pytest.raises(PipelineError) as info:
        parse_params(raw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_repository_params_are_valid(params):
    assert params.train.mlp.hidden_units == (800,)
    assert params.train.batch_size == 200
    assert params.split.val_fraction == 0.2


def test_unknown_key_is_named_with_the_allowed_ones(raw):
    raw["train"]["lrr"] = 0.1
    message = error_of(raw)
    assert "unknown key train.lrr; allowed keys here: " in message
    assert "lr" in message.split("allowed keys here: ")[1].split(", "), "the key meant, among the allowed ones"


def test_missing_key_is_named(raw):
    del raw["split"]["seed"]
    assert "missing key split.seed" in error_of(raw)


def test_wrong_type_names_key_and_value(raw):
    raw["train"]["epochs"] = "ten"
    message = error_of(raw)
    assert "train.epochs" in message and "'ten'" in message and "whole number" in message


def test_bool_is_not_a_number(raw):
    raw["train"]["batch_size"] = True
    assert "train.batch_size" in error_of(raw)


def test_out_of_range_says_what_is_allowed(raw):
    raw["split"]["val_fraction"] = 1.5
    message = error_of(raw)
    assert "split.val_fraction = 1.5" in message and "< 1" in message


def test_choice_lists_the_options(raw):
    raw["train"]["optimizer"] = "adamw"
    message = error_of(raw)
    assert "train.optimizer = 'adamw'" in message and "sgd, adam, rmsprop" in message


def test_list_items_are_checked(raw):
    raw["train"]["mlp"]["hidden_units"] = [800, 0]
    assert "train.mlp.hidden_units[1] = 0" in error_of(raw)
    raw["train"]["mlp"]["hidden_units"] = 800
    assert "must be a list" in error_of(raw)


def test_related_keys_are_checked_together(raw):
    raw["train"]["convpool"]["kernel_sizes"] = [5]
    assert "train.convpool: kernel_sizes has 1 entries; give one per filters entry" in error_of(raw)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"]["dataset"] = "folder"
    assert "data: dataset folder needs data.folder" in error_of(raw)


def test_lookahead_without_a_weight_average_is_named(raw):
    raw["train"]["ema_every"] = 5
    assert "train.ema_every needs a weight average to jump to: set train.ema" in error_of(raw)


def test_lookahead_beside_a_weight_average_is_named(raw):
    raw["train"].update(lookahead=0.95, ema=0.99)
    assert "train.lookahead and train.ema each average the weights: set one of them to 0" in error_of(raw)


def test_a_faster_bias_rate_outside_sgd_is_named(raw):
    raw["train"].update(optimizer="adam", batch_norm_bias_lr=64)
    assert "train.batch_norm_bias_lr is for train.optimizer sgd (now adam); set it back to 1" in error_of(raw)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("shard_mb", 8 * MEMORY_MB, "preprocess: shard_mb = {v} MB is more than this machine can hold"),
        ("image_size", 100_000, "preprocess: image_size = {v}: one 100000 x 100000 image takes 112 GiB"),
    ],
)
def test_sizes_beyond_the_machines_memory_are_refused_before_any_allocation(raw, key, value, message):
    """shard_mb=30000 and image_size=100000 passed, then preprocess died allocating 29 GiB (45 TiB)."""
    raw["preprocess"][key] = value
    assert message.format(v=value) in error_of(raw)


def test_switches_must_be_booleans(raw):
    raw["train"]["augment"]["enabled"] = "yes please"
    assert "train.augment.enabled = 'yes please' must be true or false" in error_of(raw)


def test_exponent_written_without_dot_is_a_number(tmp_path: Path, raw):
    text = (REPO / "params.yaml").read_text().replace("lr: 0.01", "lr: 1e-3")
    assert "lr: 1e-3" in text
    (tmp_path / "params.yaml").write_text(text)
    assert load_params(tmp_path / "params.yaml").train.lr == pytest.approx(0.001)
    bad = copy.deepcopy(raw)
    bad["train"]["lr"] = "fast"
    assert "train.lr = 'fast'" in error_of(bad)
    bad["train"]["lr"] = "nan"
    assert "train.lr" in error_of(bad)


def test_missing_and_malformed_files_name_the_file(tmp_path: Path):
    with pytest.raises(PipelineError, match="params.yaml: not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("train: [1, 2\n")
    with pytest.raises(PipelineError, match=r"params.yaml: line \d+ is not valid YAML"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("- 1\n")
    with pytest.raises(PipelineError, match="top level must be a mapping"):
        load_params(tmp_path / "params.yaml")


def choice_keys(cls: type = Params, prefix: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every param with a fixed set of values: its dotted key and the values."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        tp = hints[field.name]
        if dataclasses.is_dataclass(tp):
            yield from choice_keys(tp, f"{prefix}{field.name}.")
        elif typing.get_origin(tp) is typing.Literal:
            yield prefix + field.name, typing.get_args(tp)


def value_at(params: object, key: str) -> object:
    for part in key.split("."):
        params = getattr(params, part)
    return params


def test_every_choice_can_be_set_with_dvc_exp_run_s_as_documented(tmp_path: Path):
    """`dvc exp run -S key=value` (DVC's Hydra overrides), then a later -S of another key that rewrites params.yaml:
    on and off, which YAML 1.1 reads as booleans, and every other documented value come through as meant."""
    keys = dict(choice_keys())
    assert keys["train.xla"] == ("auto", "on", "off")
    assert keys["train.mixed_precision"] == ("auto", "on", "off", "bfloat16")
    for key, choices in keys.items():
        for choice in choices:
            shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
            needs = ["data.folder=photos"] if (key, choice) == ("data.dataset", "folder") else []
            apply_overrides(tmp_path / "params.yaml", [f"{key}={choice}", *needs])
            apply_overrides(tmp_path / "params.yaml", ["train.lr=0.02"])  # DVC writes the whole file again
            params = parse_params(yaml.safe_load((tmp_path / "params.yaml").read_text()))
            assert value_at(params, key) == choice, f"-S {key}={choice}"


def test_a_params_file_no_one_would_write_is_refused_in_one_line_before_it_is_parsed(tmp_path: Path):
    from imgclf.config.yaml_file import read_yaml

    huge = tmp_path / "params.yaml"
    huge.write_text("train:\n  mlp:\n    hidden_units: [" + ", ".join(["800"] * 2_000_000) + "]\n")
    with pytest.raises(PipelineError) as refused:
        read_yaml(huge)
    assert str(refused.value) == (
        f"{huge}: 10.0 MB; a file of settings is a few KB (at most 256 KB is read): keep the data it lists elsewhere"
    )


def test_lists_and_strings_have_bounded_lengths(raw):
    raw["train"]["mlp"]["hidden_units"] = [800] * 2_000_000
    assert error_of(raw) == "params.yaml: train.mlp.hidden_units has 2000000 entries; at most 64 are allowed"
    raw["train"]["mlp"]["hidden_units"] = [800]
    raw["data"]["mirrors"]["mnist"] = ["/srv/" + "x" * 5000]
    assert error_of(raw) == "params.yaml: data.mirrors.mnist[0] has 5005 characters; at most 4096 are allowed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  lr: 0.1\n  epochs: 3\n  lr: 0.2\n", "line 4: the key lr is given twice in one mapping; keep one"),
        (
            'a: &a ["lol", "lol", "lol"]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n',
            "line 2: the alias *a is refused (aliases can expand without bound); write its value out",
        ),
    ],
)
def test_duplicate_keys_and_aliases_are_refused_where_we_read_params(tmp_path: Path, text: str, message: str):
    from imgclf.config.yaml_file import read_yaml

    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(PipelineError) as refused:
        read_yaml(tmp_path / "params.yaml")
    assert str(refused.value) == f"{tmp_path / 'params.yaml'} {message}"


def test_make_repro_checks_params_with_our_loader_before_dvc_reads_them(tmp_path: Path):
    import subprocess
    import sys

    recipe = (REPO / "Makefile").read_text().split("\nrepro: setup\n")[1].split("\n\n")[0].split("\n")
    assert [line.strip() for line in recipe] == ["python -m imgclf.config.params_check", "dvc repro"]
    bomb = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'lol'}]\n" for i in range(9))
    (tmp_path / "params.yaml").write_text(bomb)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    check = [sys.executable, "-m", "imgclf.config.params_check"]
    done = subprocess.run(check, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: params.yaml line 2: the alias *l0 is refused (aliases can expand without bound); write its value out"
    )
