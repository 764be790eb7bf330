from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib.figure import Figure

from imgclf.errors import PipelineError
from imgclf.evaluation import plots
from imgclf.evaluation.plots import (
    pick_misclassified,
    plot_confusion_matrix,
    plot_misclassified,
    plot_training_curves,
    training_curves,
)
from imgclf.livelog import read_series
from tests.helpers.data import blobs, sharded

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def drawn(monkeypatch) -> list[Figure]:
    """The figures the plot functions save, in order (each still written to its PNG)."""
    figures: list[Figure] = []
    save = plots._save

    def keeping(fig: Figure, out: Path) -> None:
        figures.append(fig)
        save(fig, out)

    monkeypatch.setattr(plots, "_save", keeping)
    return figures


def tick_labels(axis) -> list[str]:
    return [label.get_text() for label in axis.get_ticklabels()]


def write_live_log(live_dir: Path, epochs: int) -> None:
    for split in ("train", "eval"):
        for metric in ("loss", "accuracy"):
            path = live_dir / "plots" / "metrics" / split / f"{metric}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = [f"step\t{metric}"] + [f"{s}\t{1 / (s + 1):.4f}" for s in range(epochs)]
            path.write_text("\n".join(rows) + "\n")


def test_training_curves_show_train_beside_validation_for_loss_and_accuracy(tmp_path: Path, drawn):
    write_live_log(tmp_path / "live", epochs=5)
    plot_training_curves(tmp_path / "live", tmp_path / "plots" / "training_curves.png")
    assert (tmp_path / "plots" / "training_curves.png").read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["training_curves.png"], "no temporary left"
    (figure,) = drawn
    for axes, metric in zip(figure.axes, ("loss", "accuracy"), strict=True):
        assert axes.get_title() == metric.capitalize() and axes.get_xlabel() == "epoch"
        assert [text.get_text() for text in axes.get_legend().get_texts()] == ["train", "validation"]
        for line in axes.get_lines():
            assert list(line.get_xdata()) == [1, 2, 3, 4, 5], "epochs counted from 1"
            assert list(line.get_ydata()) == [1.0, 0.5, 0.3333, 0.25, 0.2]


@pytest.mark.parametrize("epochs", [1, 5, 20, 100])
def test_training_curves_mark_whole_epochs_only(tmp_path: Path, epochs: int):
    """A 20-epoch run's x axis read 2.5, 5.0, 7.5: there is no epoch 2.5."""
    write_live_log(tmp_path / "live", epochs=epochs)
    figure = training_curves(tmp_path / "live")
    figure.canvas.draw()
    for axes in figure.axes:
        low, high = axes.get_xlim()
        ticks = [t for t in axes.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_confusion_matrix_includes_classes_never_predicted(tmp_path: Path, drawn):
    (tmp_path / "predictions.csv").write_text("actual,predicted\ncat,cat\ndog,cat\n")
    plot_confusion_matrix(tmp_path / "predictions.csv", ["cat", "dog", "panda"], tmp_path / "cm.png")
    assert (tmp_path / "cm.png").read_bytes().startswith(PNG_SIGNATURE)
    (axes,) = drawn[0].axes
    assert axes.get_title() == "Confusion matrix (2 test images)"
    assert tick_labels(axes.xaxis) == tick_labels(axes.yaxis) == ["cat", "dog", "panda"]
    assert np.asarray(axes.images[0].get_array()).tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]


def test_missing_inputs_are_named(tmp_path: Path):
    with pytest.raises(PipelineError, match=r"loss.tsv: not found; run `dvc repro train` first"):
        plot_training_curves(tmp_path / "live", tmp_path / "out.png")
    (tmp_path / "predictions.csv").write_text("truth,guess\na,b\n")
    with pytest.raises(PipelineError, match="missing column 'actual'"):
        plot_confusion_matrix(tmp_path / "predictions.csv", ["a", "b"], tmp_path / "cm.png")
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "cm.png").exists()


def test_a_live_log_cut_in_its_last_line_is_read_up_to_it_and_a_bad_line_before_is_named(tmp_path: Path):
    write_live_log(tmp_path, 2)
    path = tmp_path / "plots" / "metrics" / "eval" / "accuracy.tsv"
    path.write_text(path.read_text() + "2\t0.3")  # DVCLive is writing epoch 3
    assert read_series(tmp_path, "eval", "accuracy") == ([1, 2, 3], [1.0, 0.5, 0.3])
    path.write_text(path.read_text() + "\n3\t")  # and now epoch 4
    assert read_series(tmp_path, "eval", "accuracy") == ([1, 2, 3], [1.0, 0.5, 0.3])
    path.write_text("step\taccuracy\n0\tnan?\n1\t0.5\n")
    with pytest.raises(PipelineError, match=r"accuracy.tsv: not a DVCLive log .*line 2"):
        read_series(tmp_path, "eval", "accuracy")


def test_misclassified_grid_shows_the_wrong_ones_and_checks_it_matches_the_test_set(tmp_path: Path, drawn):
    images = blobs(n_per_class=4)
    test = sharded(tmp_path / "test", images, per_shard=5)  # the wrong ones are read from 3 shards
    names = [images.class_names[label] for label in images.labels]
    guesses = [names[0]] * len(names)  # everything predicted as the first image's class
    (tmp_path / "predictions.csv").write_text(
        "actual,predicted\n" + "".join(f"{a},{p}\n" for a, p in zip(names, guesses, strict=True))
    )
    plot_misclassified(test, tmp_path / "predictions.csv", 5, tmp_path / "wrong.png")
    assert (tmp_path / "wrong.png").read_bytes().startswith(PNG_SIGNATURE)
    wrong = len(names) - names.count(names[0])
    assert drawn[0].get_suptitle() == f"Misclassified test images: 5 of {wrong} shown"
    titles = [axes.get_title() for axes in drawn[0].axes if axes.get_title()]
    assert len(titles) == 5 and all(t.endswith(f"\npred: {names[0]}") and not t.startswith(f"true: {names[0]}")
                                    for t in titles)  # fmt: skip

    (tmp_path / "all_right.csv").write_text("actual,predicted\n" + "".join(f"{a},{a}\n" for a in names))
    plot_misclassified(test, tmp_path / "all_right.csv", 5, tmp_path / "none.png")
    assert (tmp_path / "none.png").read_bytes().startswith(PNG_SIGNATURE)
    assert drawn[1].get_suptitle() == "No misclassified test images"

    (tmp_path / "other.csv").write_text("actual,predicted\n" + "".join(f"{a},{a}\n" for a in reversed(names)))
    with pytest.raises(PipelineError, match=r"other.csv: its rows do not match the test set"):
        plot_misclassified(test, tmp_path / "other.csv", 5, tmp_path / "x.png")


def test_a_confusion_matrix_of_many_classes_stays_readable_and_small(tmp_path: Path, drawn):
    """1,000 classes (which ran out of 24 GB): the 30 most confused, labelled, in a picture of bounded size."""
    names = [f"class{c:04d}" for c in range(1000)]
    confused = {17, 400, 999}  # each mistaken for the next class twice, every other class right
    rows = [
        (names[c], names[(c + 1) % 1000] if c in confused and i < 2 else names[c])
        for c in range(1000)
        for i in range(3)
    ]
    (tmp_path / "predictions.csv").write_text("actual,predicted\n" + "".join(f"{a},{p}\n" for a, p in rows))
    plot_confusion_matrix(tmp_path / "predictions.csv", names, tmp_path / "cm.png")
    height, width = cv2.imread(str(tmp_path / "cm.png")).shape[:2]
    assert max(height, width) <= 2000
    (axes,) = drawn[0].axes
    assert axes.get_title() == "The 6 most confused of 1000 classes\n(3000 test images)"
    most_confused = ["class0000", "class0017", "class0018", "class0400", "class0401", "class0999"]
    assert tick_labels(axes.xaxis) == tick_labels(axes.yaxis) == most_confused, "each a true or predicted mistake"
    assert np.asarray(axes.images[0].get_array())[1, 2] == 2, "class0017 taken for class0018 twice"


def test_misclassified_images_are_sampled_across_classes():
    """Not the first N wrong images (all of the first few classes), but one of each class in turn."""
    actual = [f"digit{c}" for c in range(10) for _ in range(10)]
    predicted = ["digit0" if a != "digit0" else "digit1" for a in actual]
    shown = pick_misclassified(actual, predicted, 10)
    assert sorted(actual[i] for i in shown) == sorted(set(actual))
    assert len(set(pick_misclassified(actual, predicted, 1000))) == 100, "every wrong one, once, when all fit"


def test_a_loss_spanning_orders_of_magnitude_goes_on_a_log_axis_and_says_so(tmp_path: Path):
    """A photo run's first-epoch loss of 60 flattened every later epoch along the bottom of the plot."""
    write_live_log(tmp_path / "live", epochs=5)
    loss = tmp_path / "live" / "plots" / "metrics" / "train" / "loss.tsv"
    loss.write_text("step\tloss\n0\t62.5\n1\t1.2\n2\t0.8\n3\t0.6\n4\t0.5\n")
    loss_axes, accuracy_axes = training_curves(tmp_path / "live").axes
    assert loss_axes.get_yscale() == "log" and loss_axes.get_title() == "Loss (log scale)"
    assert accuracy_axes.get_yscale() == "linear" and accuracy_axes.get_title() == "Accuracy"
    loss.write_text("step\tloss\n0\t2.3\n1\t1.2\n2\t0.8\n")
    assert training_curves(tmp_path / "live").axes[0].get_yscale() == "linear", "a usual range stays linear"
