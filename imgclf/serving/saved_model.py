"""Write the trained model as a TensorFlow SavedModel, for TF Serving and TensorFlow in other languages. It takes
the same raw uint8 images as the Keras model. Not a pipeline output: its bytes differ on every save
(imgclf/serving/export.py says why).

    python -m imgclf.serving.saved_model models exported/saved_model
"""

import argparse
from pathlib import Path

from imgclf.cli import COMMAND, exit_on_error
from imgclf.errors import PipelineError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path, help="the trained model's folder (model.keras, class_names.json)")
    parser.add_argument("out_dir", type=Path, help="the SavedModel's folder, written whole; must not exist")
    args = parser.parse_args()
    if args.out_dir.exists():
        raise PipelineError(f"{args.out_dir}: already exists; name a new folder (nothing is overwritten)")

    from imgclf.atomic import atomic_dir
    from imgclf.data.dataset import write_class_names
    from imgclf.modeling.model_file import load_model

    model, class_names = load_model(args.model_dir)
    with atomic_dir(args.out_dir) as tmp:
        model.export(str(tmp), format="tf_saved_model", verbose=False)
        write_class_names(tmp / "class_names.json", class_names)
    print(f"SavedModel in {args.out_dir} (its serve() takes uint8 images of shape {model.input_shape})")


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
