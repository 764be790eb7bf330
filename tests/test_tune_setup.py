"""A study knows its setup: resuming with another space, base, -S, committed params or code is refused in one line
naming what changed, or, with --new-part, goes on as a part of its own; the data's md5 is checked as trials end;
--seeds re-trains exactly the trials' params."""

import dataclasses
import subprocess
from pathlib import Path

import optuna
import pytest

from imgclf.errors import PipelineError
from imgclf.experiments.search_space import parse_space
from imgclf.search.setup import changes, code_state, data_check, open_part, study_setup
from tests.helpers.search import a_search

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository whose dvc.yaml names a code file as each stage's dep, and the plot stage reads the DVCLive
    log the train stage writes, which git keeps."""
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py, data.npz]\n"
        "    plots:\n      - dvclive/plots:\n          cache: false\n"
        "  plot:\n    cmd: python plot.py\n    deps: [plot.py, dvclive/plots/accuracy.tsv]\n"
    )
    (tmp_path / "train.py").write_text("print('train')\n")
    (tmp_path / "plot.py").write_text("print('plot')\n")
    (tmp_path / "dvclive/plots").mkdir(parents=True)
    (tmp_path / "dvclive/plots/accuracy.tsv").write_text("step\taccuracy\n0\t0.5\n")  # git keeps it
    (tmp_path / "notes.md").write_text("notes\n")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run([*GIT, *command], cwd=tmp_path, check=True)
    return tmp_path


def a_setup(project: Path, **changed) -> dict:
    search = dataclasses.replace(a_search(project, trials=4), **{"shared": {"train.momentum": 0.0}, **changed})
    return study_setup(search)


def test_uncommitted_code_changes_the_setup_and_says_so(project: Path):
    clean = code_state(project)
    assert clean["dirty"] is False
    (project / "notes.md").write_text("more notes\n")  # no stage reads it
    (project / "dvclive/plots/accuracy.tsv").write_text("step\taccuracy\n0\t0.9\n")  # a result, not code
    assert code_state(project) == clean
    (project / "train.py").write_text("print('train twice')\n")
    dirty = code_state(project)
    assert dirty["dirty"] is True and dirty["code"] != clean["code"] and dirty["commit"] == clean["commit"]


def test_a_study_goes_on_only_with_its_setup_and_names_what_changed(project: Path):
    study = optuna.create_study(study_name="s")
    opened, changed = open_part(study, a_setup(project), new_part=False, open_named=None)
    assert opened is study and changed == [] and study.user_attrs["setup"]["space"][0]["key"] == "train.lr"
    assert open_part(study, a_setup(project), new_part=False, open_named=None) == (study, [])

    other_base = a_setup(project, shared={"train.momentum": 0.9})
    with pytest.raises(PipelineError) as refused:
        open_part(study, other_base, new_part=False, open_named=None)
    assert str(refused.value) == (
        "study s began with another setup: base train.momentum 0.0 -> 0.9; name another --study, or give --new-part "
        "to start part 2 of it (its report keeps the parts apart)"
    )
    linear = parse_space({"train.lr": {"low": 0.001, "high": 0.1}}, "test")
    assert changes(study.user_attrs["setup"], a_setup(project, space=linear)) == [
        "space train.lr {low: 0.001, high: 0.1, log: true} -> {low: 0.001, high: 0.1}"
    ]
    (project / "train.py").write_text("print('changed')\n")
    assert changes(study.user_attrs["setup"], a_setup(project)) == ["the code DVC tracks (uncommitted changes)"]


def test_a_new_part_is_a_study_of_its_own_that_the_next_run_goes_on_with(project: Path):
    storage = optuna.storages.InMemoryStorage()
    named = lambda name: optuna.create_study(study_name=name, storage=storage, load_if_exists=True)  # noqa: E731
    first = named("s")
    open_part(first, a_setup(project), new_part=False, open_named=named)
    other_base = a_setup(project, shared={"train.momentum": 0.9})
    part, changed = open_part(first, other_base, new_part=True, open_named=named)
    assert part.study_name == "s-part2" and changed == ["base train.momentum 0.0 -> 0.9"]
    again, changed = open_part(named("s"), other_base, new_part=False, open_named=named)
    assert again.study_name == "s-part2" and changed == [], "the next run goes on with the newest part"
    with pytest.raises(PipelineError, match="study s-part2 began with another setup: base train.momentum 0.9 -> 0.0"):
        open_part(named("s"), a_setup(project), new_part=False, open_named=named)


def test_a_trial_on_other_data_is_named_with_what_moved():
    study = optuna.create_study()
    assert data_check(study, {"data/split/train": "a", "data/split/test": "b"}) is None
    assert data_check(study, {"data/split/train": "a", "data/split/test": "b"}) is None
    assert data_check(study, {"data/split/train": "c", "data/split/test": "b"}) == (
        "it trained on other data than the study's first trials (data/split/train changed)"
    )


def test_an_experiment_s_params_are_matched_against_the_trial_s_as_yaml_reads_them_back():
    from imgclf.experiments.search_space import same_value

    assert same_value("1e-07", 1e-07) and same_value(1.0e-7, 1e-07) and same_value([800, 500], [800, 500])
    assert not same_value(0.01, 0.02) and not same_value(None, 3) and not same_value([800], [800, 500])
    assert not same_value("relu", "tanh")
    assert not same_value(True, 1.0) and same_value(True, True)  # a switch is no number
