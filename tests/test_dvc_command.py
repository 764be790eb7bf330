"""DVC refuses at once when another DVC or git command holds the repository; the project's DVC calls wait their
turn instead of failing (a tuner's trial beside a user's `dvc exp run` was lost to these)."""

import subprocess

import pytest

from imgclf.errors import PipelineError
from imgclf.experiments import dvc_command
from imgclf.experiments.dvc_command import dvc

REFUSALS = [
    "ERROR: Unable to acquire lock. Most likely another DVC process is running or was terminated abruptly.",
    "ERROR: Stash apply resulted in merge conflicts: params.yaml",
    "fatal: Unable to create '/repo/.git/index.lock': File exists.",
]


def replies(monkeypatch, *outcomes: tuple[int, str]) -> list[list[str]]:
    """subprocess.run answers each call with the next (returncode, stderr); returns the calls made."""
    calls, pending = [], list(outcomes)

    def run(argv, **_):
        calls.append(argv)
        code, err = pending.pop(0)
        return subprocess.CompletedProcess(argv, code, stdout="done\n" if code == 0 else "", stderr=err)

    monkeypatch.setattr(dvc_command.subprocess, "run", run)
    monkeypatch.setattr(dvc_command, "BUSY_PAUSE_S", 0.0)
    return calls


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_command_refused_for_a_busy_repository_waits_and_runs_again(monkeypatch, capsys, refusal):
    calls = replies(monkeypatch, (1, refusal), (1, refusal), (0, ""))
    assert dvc("exp", "run", "--name", "t-0001") == "done\n"
    assert len(calls) == 3
    assert capsys.readouterr().err.strip() == "dvc exp run waits: another DVC command holds the repository"


def test_any_other_failure_is_one_line_at_once(monkeypatch):
    calls = replies(monkeypatch, (1, "Traceback...\nERROR: failed to reproduce 'train': exit 1"))
    with pytest.raises(PipelineError, match=r"^dvc exp run failed: ERROR: failed to reproduce 'train': exit 1$"):
        dvc("exp", "run")
    assert len(calls) == 1


def test_a_repository_busy_past_the_wait_fails_in_one_line(monkeypatch):
    replies(monkeypatch, *[(1, REFUSALS[0])] * 3)
    monkeypatch.setattr(dvc_command, "BUSY_WAIT_S", -1.0)
    with pytest.raises(PipelineError, match="Unable to acquire lock"):
        dvc("exp", "run")


def test_a_command_that_hangs_past_its_timeout_is_stopped_and_fails_in_one_line(monkeypatch, tmp_path):
    hanging = tmp_path / "python"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")  # a DVC that never answers
    hanging.chmod(0o755)
    monkeypatch.setattr(dvc_command.sys, "executable", str(hanging))
    with pytest.raises(PipelineError, match=r"^dvc exp show --json did not answer in 0.5 s, and was stopped$"):
        dvc("exp", "show", "--json", timeout_s=0.5)
