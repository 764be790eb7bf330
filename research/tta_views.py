"""Benchmark: what each set of test-time views (evaluate.tta, evaluate.tta_shift) gives a trained model, and what
it costs in seconds, through evaluate itself on the pipeline's test shards.

    python research/tta_views.py MODEL_DIR TEST_SHARDS --name recipe_cifar10_full@77c2f82

MODEL_DIR is a trained models/ folder, TEST_SHARDS the data/split/test written beside it (benchmarks/recipes.py
--keep DIR keeps both for each recipe). Each model's figures go under its --name in
research/results/tta_views.json; the others stay.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchmarks.quiet  # noqa: F401  (before TensorFlow: no native start-up lines)

# isort: split
from imgclf.data.shards import open_shards
from imgclf.evaluation.evaluate import evaluate
from imgclf.experiments.provenance import machine
from imgclf.modeling.model_file import load_model

VIEWS = {"none": (False, 0), "mirror": (True, 0), "shift 1 px": (False, 1), "mirror and shift 1 px": (True, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trained model folder (model.keras, class_names.json)")
    parser.add_argument("test", type=Path, help="the test shards (data/split/test) of the same run")
    parser.add_argument("--name", required=True, help="what the model is, e.g. recipe_cifar10_full@COMMIT")
    parser.add_argument("--out", type=Path, default=Path("research/results"))
    args = parser.parse_args()
    model, class_names = load_model(args.model)
    test = open_shards(args.test)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"evaluated_at": commit, "machine": machine(), "test_images": len(test), "views": {}}
    for name, (tta, shift) in VIEWS.items():
        start = time.perf_counter()
        metrics = evaluate(model, class_names, test, 500, tta, shift).metrics
        result["views"][name] = {"evaluate.tta": tta, "evaluate.tta_shift": shift,
                                 "test_accuracy": metrics["test_accuracy"], "test_loss": round(metrics["test_loss"], 4),
                                 "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
        print(name, result["views"][name])
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "tta_views.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[args.name] = result
    path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
