"""`imgclf tune`'s command line is checked whole before the study opens: a bad option is one line naming it, and
nothing is written (no study database, no log) where it should not be."""

import os
from pathlib import Path

import pytest

from imgclf.errors import PipelineError
from imgclf.search.tune import arguments, plan
from tests.helpers.project import REPO


def refusal(argv: list[str]) -> str:
    """The one line `imgclf tune ARGV` is refused with, planned in this repository; nothing may land in .tune/."""
    before = set((REPO / ".tune").glob("**/*")) if (REPO / ".tune").exists() else set()
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        with pytest.raises(PipelineError) as refused:
            plan(arguments(argv))
    finally:
        os.chdir(cwd)
    after = set((REPO / ".tune").glob("**/*")) if (REPO / ".tune").exists() else set()
    assert after == before, f"{argv} wrote {sorted(after - before)} before refusing"
    assert "\n" not in str(refused.value)
    return str(refused.value)


@pytest.mark.parametrize(
    ("study", "said"),
    [
        ("../../x", "--study '../../x': give a name of letters, digits, - and _"),
        ("my study", "--study 'my study': give a name"),
        ("x" * 300, "at most 80"),
        (".hidden", "starting with a letter or digit"),
    ],
)
def test_a_study_name_is_one_safe_segment_checked_before_anything_runs(study: str, said: str):
    assert said in refusal(["mnist_mlp", "--study", study])


@pytest.mark.parametrize("timeout", ["nan", "inf", "-5", "0"])
def test_a_timeout_is_a_finite_number_of_seconds(timeout: str):
    assert f"--timeout {float(timeout)}: give a number of seconds above 0" in refusal(
        ["mnist_mlp", "--timeout", timeout]
    )


def test_out_must_be_a_folder_before_the_trials_run(tmp_path: Path):
    said = refusal(["mnist_mlp", "--out", str(REPO / "README.md")])
    assert said == f"--out {REPO / 'README.md'}: {REPO / 'README.md'} is a file; give a folder (default reports)"
    (tmp_path / "file").write_text("mine")
    assert "is a file" in refusal(["mnist_mlp", "--out", str(tmp_path / "file" / "deeper")])


def test_an_unknown_set_key_is_blamed_on_set_not_on_the_space():
    said = refusal(["mnist_mlp", "-S", "train.no_such_key=3"])
    assert said.startswith("-S: unknown key train.no_such_key;") and "sweeps.yaml" not in said


def test_another_model_than_the_space_searches_is_refused():
    said = refusal(["mnist_mlp", "-S", "train.model=cnn"])
    assert said.startswith("train.model is cnn, but lab mnist_mlp searches train.mlp.hidden_units, which only the mlp")


def test_jobs_are_bounded_by_the_machine_s_cores():
    cores = os.cpu_count()
    assert refusal(["mnist_mlp", "--jobs", str(cores + 1)]) == (
        f"--jobs {cores + 1}: at most {cores} here, one trial per core of this machine; give --jobs {cores}"
    )
