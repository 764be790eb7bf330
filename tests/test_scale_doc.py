"""docs/scale.md's search on several machines, run as written: its throwaway PostgreSQL server, two clones tuning
one study, one of them killed mid-trial as a machine dies, and a third clone that applies the best trial. The
blocks are read from the doc; the test only leaves out `make setup` (its own environment stands in) and gives the
tuners a short --grace."""

import re
import subprocess
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.helpers import REPO
from tests.helpers.machines import kill_machine, pushed_project, start, tree, wait_for_training
from tests.helpers.project import processes_in, run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning:platformdirs")]

GRACE_S = 20


def doc_blocks() -> list[str]:
    """The bash blocks of the doc's search section, as a test machine runs them."""
    text = (REPO / "docs" / "scale.md").read_text().split("## A search on several machines", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    ours = []
    for block in blocks:
        lines = [line for line in block.splitlines() if not line.startswith(("make setup", ". .venv/bin/activate"))]
        lines = [f"{line} --grace {GRACE_S}" if line.startswith("imgclf tune") else line for line in lines]
        ours.append("\n".join(lines) + "\n")
    return ours


def test_the_doc_has_a_server_route_a_try_route_a_machine_and_a_third_machine():
    debian, try_it, machine, afterwards = doc_blocks()
    assert "pg_ctlcluster" in debian and "runuser" in debian and "sudo" not in debian
    assert "local_postgres start" in try_it
    assert "dvc remote add --local" in machine and "--push origin" in machine
    assert "dvc exp pull" in afterwards and "--apply" in afterwards and "dvc repro" in afterwards


def test_two_clones_one_killed_mid_trial_finish_the_study_and_a_third_applies_its_best(tmp_path: Path):
    _, try_it, machine, afterwards = doc_blocks()
    env = {**pushed_project(tmp_path), "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    started = subprocess.run(["bash", "-euo", "pipefail", "-c", try_it], env={**env_of(env)}, capture_output=True,
                             text=True, cwd=tmp_path)  # fmt: skip
    assert started.returncode == 0, started.stderr
    exports = "\n".join(line for line in try_it.splitlines() if line.startswith("export ")) + "\n"
    url = (tmp_path / "home" / "tune-postgres" / "url").read_text().strip()
    try:
        machines = []
        for name in ("one", "two"):
            (tmp_path / name).mkdir()
            machines.append(start(exports + machine, tmp_path / name, env, tmp_path / f"{name}.log"))
        wait_for_training(tmp_path / "one")
        kill_machine(machines[0])
        assert machines[1].wait(timeout=900) == 0, (tmp_path / "two.log").read_text()
        said = (tmp_path / "two.log").read_text()
        assert "8 of 8 trials done" in said

        study = optuna.load_study(study_name="mnist_mlp-tune", storage=url.replace("://", "+psycopg2://", 1))
        finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
        assert len(finished) == 8 and not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
        lost = [t for t in study.trials if t.state == TrialState.FAIL and not t.user_attrs.get("surplus")]
        assert len(lost) == 1, "the killed machine's trial"
        assert [t.params for t in finished if t.system_attrs.get("failed_trial") == lost[0].number] == [lost[0].params]
        assert processes_in(tmp_path / "one") == [] and tree(machines[0].pid) == []

        (tmp_path / "three").mkdir()
        third = subprocess.run(["bash", "-euo", "pipefail", "-c", exports + afterwards], cwd=tmp_path / "three",
                               env=env_of(env), capture_output=True, text=True)  # fmt: skip
        assert third.returncode == 0, third.stdout + third.stderr
        clone = tmp_path / "three" / "imgclf"
        best = max((t for t in finished if t.state == TrialState.COMPLETE), key=lambda t: (t.value, -t.number))
        assert f"applied {best.user_attrs['experiment']}" in third.stdout
        pulled = run(["dvc", "exp", "ls", "--all-commits", "--name-only"], clone).stdout.split()
        assert {t.user_attrs["experiment"] for t in finished if t.state == TrialState.COMPLETE} <= set(pulled)
        params = yaml.safe_load((clone / "params.yaml").read_text())
        assert params["train"]["lr"] == best.params["train.lr"]
        assert run(["dvc", "status"], clone).stdout == "fetch:\n\talways changed\n", "nothing missing, nothing stale"
        assert (clone / "models" / "model.keras").stat().st_size > 0
        assert (clone / "plots" / "confusion_matrix.png").stat().st_size > 0
        assert any((clone / "exported").iterdir())
    finally:
        run(["python", "-m", "imgclf.search.local_postgres", "stop", str(tmp_path / "home" / "tune-postgres")], REPO)


def env_of(extra: dict[str, str]) -> dict[str, str]:
    from tests.helpers.project import project_env

    return project_env(extra)
