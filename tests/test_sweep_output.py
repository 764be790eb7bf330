"""What a sweep prints: the experiments' logs without DVC's generic hints, and a partial run of experiments the
user chose (--only) called partial by choice, not "did not finish"."""

from imgclf.experiments.chosen import chosen_reason
from imgclf.experiments.exp_show import Result
from imgclf.experiments.labs import experiments, pinned
from imgclf.experiments.provenance import partial_reason
from imgclf.experiments.queue_log import relayed
from imgclf.experiments.repeats import Group

# The end of `dvc exp run --run-all`'s stdout after one tiny experiment (DVC 3.67.1), then DVC 2.x's branch hint
DVC_TAIL = [
    "Running stage 'plot':\n",
    "> python -m stages.plot dvclive metrics/predictions.csv models/class_names.json data/split/test plots\n",
    "plots in plots: training_curves.png, confusion_matrix.png, misclassified.png\n",
    "Updating lock file 'dvc.lock'\n",
    "\n",
    "Ran experiment(s): \n",
    "To apply the results of an experiment to your workspace run:\n",
    "\n",
    "\tdvc exp apply <exp>\n",
    "To promote an experiment to a Git branch run:\n",
    "\n",
    "\tdvc exp branch <exp> <branch>\n",
]


def test_dvcs_generic_hints_and_an_empty_ran_line_are_left_out_the_logs_kept():
    start = "Following logs for all queued experiments. Use Ctrl+C to stop following logs (experiment execution will "
    start += "continue).\n"
    lines = [start, "\n", "Reproducing experiment 'mnist_mlp-base'\n", *DVC_TAIL]
    assert list(relayed(lines)) == [
        "\n",
        "Reproducing experiment 'mnist_mlp-base'\n",
        "Running stage 'plot':\n",
        "> python -m stages.plot dvclive metrics/predictions.csv models/class_names.json data/split/test plots\n",
        "plots in plots: training_curves.png, confusion_matrix.png, misclassified.png\n",
        "Updating lock file 'dvc.lock'\n",
    ]
    error = "ERROR: failed to reproduce 'train': failed to run: python -m stages.train, exited with 1\n"
    kept = ["epoch 1/100: accuracy 0.1562\n", "\n", error, "\n", "Ran experiment(s): mnist_mlp-base\n"]
    assert list(relayed(kept)) == kept, "errors, blank lines between kept lines and a named run stay"


def found(planned, raw, names: set[str]) -> list[Group]:
    return [Group(r.name, (Result(r.name, pinned(raw, r), 0.9, 0.1, 1, 1),)) for r in planned if r.name in names]


def test_a_run_of_chosen_experiments_is_partial_by_choice_and_names_the_chosen_that_failed(labs, raw):
    planned = experiments(labs["early_stopping"])
    names = [run.name for run in planned]
    one = {names[1]}
    assert partial_reason(planned, found(planned, raw, one), raw, None).startswith(
        "3 of the lab's 4 experiments did not finish"
    ), "what it said before, for experiments nobody asked for"
    assert chosen_reason(one, planned, found(planned, raw, one), raw, None) == (
        "by choice, --only: 1 of the lab's 4 experiments"
    )
    two = {names[1], names[2]}
    assert chosen_reason(two, planned, found(planned, raw, one), raw, None) == (
        f"by choice, --only: 2 of the lab's 4 experiments; 1 of them did not finish ({names[2]})"
    )
    everything = set(names)
    earlier = found(planned, raw, everything)  # the others finished in an earlier sweep: the lab is complete
    assert chosen_reason(one, planned, earlier, raw, None) is None
    previous = {"experiments": [{"name": n, "seeds": [42, 43, 44]} for n in names]}
    assert chosen_reason(one, planned, found(planned, raw, one), raw, previous) == (
        "by choice, --only: 1 of the lab's 4 experiments; 1 seed(s) an experiment, fewer than the committed report's 3"
    )


def test_a_tiny_sweep_runs_two_experiments_at_once_on_two_cores_and_a_full_one_one():
    from imgclf.experiments.sweep import default_jobs

    assert default_jobs(tiny=True, cores=2) == 2 and default_jobs(tiny=True, cores=1) == 1
    assert default_jobs(tiny=False, cores=16) == 1, "full-size training already keeps every core busy"
