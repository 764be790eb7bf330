"""What the web app's queue form plans from what a user typed: DVC's argument lists, or every line it cannot take,
named at once."""

import shutil

from imgclf.ui.actions import plan_queue
from tests.helpers import REPO


def test_a_queued_variant_becomes_dvcs_argument_list_and_a_worker(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.01\n  epochs: 5\n")
    plan = plan_queue(tmp_path, "train.lr = 0.05\n\ntrain.epochs=2", "fast-one")
    assert plan.refused is None
    assert plan.commands == [
        ["exp", "run", "--queue", "--name", "fast-one", "-S", "train.lr=0.05", "-S", "train.epochs=2"],
        ["queue", "start", "-j", "1"],
    ]


def test_every_line_the_form_cannot_take_is_named_at_once(tmp_path):
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.01\n")
    plan = plan_queue(tmp_path, "train.nope=1\nlr 0.1\ntrain.lr=[1,", "bad name;rm")
    assert plan.commands == []
    assert plan.refused.split("; ") == [
        "cannot queue 'train.nope=1': train.nope is not a key of params.yaml (e.g. train.lr=0.05)",
        "cannot queue 'lr 0.1': write key=value (e.g. train.lr=0.05)",
        "cannot read the value of train.lr: '[1,'",
        "'bad name;rm': name it with letters, digits, . - and _ (at most 80)",
    ]
    assert "give 1 to" in plan_queue(tmp_path, "  \n", "").refused


def test_a_variant_of_this_projects_params_is_checked_as_the_stages_check_them(tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    assert plan_queue(tmp_path, "train.lr=0.05", "").refused is None
    assert plan_queue(tmp_path, "train.lr=abc", "").refused == (
        "experiment the variant: train.lr = 'abc' must be a number, e.g. 0.01 or 1e-3"
    )
    assert "train.epochs = -3 is out of range" in plan_queue(tmp_path, "train.epochs=-3", "").refused
    assert "train.lr is given twice" in plan_queue(tmp_path, "train.lr=0.1\ntrain.lr=0.2", "").refused
