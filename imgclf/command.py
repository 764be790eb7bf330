"""The `imgclf` command (`pip install .`): the project's tools as subcommands, each the module's own command line.

imgclf predict --model models photos/      # = python -m imgclf.serving.predict ...
imgclf compare                             # = python -m imgclf.experiments.compare
imgclf sweep mnist_mlp --tiny              # = python -m imgclf.experiments.sweep ...
imgclf tune mnist_mlp --trials 30          # = python -m imgclf.search.tune ...
imgclf ui                                  # = python -m imgclf.ui.serve
"""

import importlib
import sys

from imgclf.cli import COMMAND, exit_on_error

SUBCOMMANDS = {  # name -> (module, what it does)
    "predict": ("imgclf.serving.predict", "classify images with a trained or exported model"),
    "saved-model": ("imgclf.serving.saved_model", "write a trained model as a SavedModel, for TF Serving"),
    "compare": ("imgclf.experiments.compare", "the experiments of HEAD side by side"),
    "sweep": ("imgclf.experiments.sweep", "run a lab's study (sweeps.yaml) as DVC experiments, then its report"),
    "tune": ("imgclf.search.tune", "search a lab's space (sweeps.yaml search:), each trial an experiment"),
    "report": ("imgclf.experiments.report", "write a lab's report from the experiments DVC holds"),
    "check": ("imgclf.experiments.check", "re-run a report's quickest run: does HEAD reproduce it?"),
    "results-table": ("imgclf.experiments.results_table", "the README's table of the committed reports"),
    "plots-page": ("imgclf.experiments.plots_page", "DVC's plots as one offline HTML page"),
    "pr-report": ("imgclf.experiments.pr_report", "the working tree against a revision, for a pull request"),
    "ui": ("imgclf.ui.serve", "a local web page of the experiments, their plots and the studies"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {about}" for name, (_, about) in SUBCOMMANDS.items()]
    return "usage: imgclf SUBCOMMAND [options]   (imgclf SUBCOMMAND --help for its options)\n\n" + "\n".join(lines)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(usage())
        return
    name = sys.argv[1]
    if name not in SUBCOMMANDS:
        sys.exit(f"error: imgclf {name}: no such subcommand; choose one of: {', '.join(SUBCOMMANDS)}")
    module = importlib.import_module(SUBCOMMANDS[name][0])
    sys.argv = [f"imgclf {name}", *sys.argv[2:]]  # argparse names the command by argv[0]: "usage: imgclf predict"
    exit_on_error(module.main, rerun=COMMAND)


if __name__ == "__main__":
    main()
