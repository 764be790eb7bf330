"""How the pages write values: accuracies as percentages, losses to 4 digits, sampled floats to 4 significant ones."""

import json

from flask import Flask

from imgclf.ui.studies import shown_storage

PERCENT = ("test_accuracy", "val_accuracy", "balanced_accuracy")
TITLES = {  # metric column -> its header
    "test_accuracy": "test acc",
    "val_accuracy": "val acc",
    "balanced_accuracy": "balanced",
    "f1_macro": "macro-F1",
    "test_loss": "test loss",
    "train_seconds": "train s",
    "images_per_second": "images/s",
}


LOWER_IS_BETTER = ("test_loss", "train_seconds")


def best_of(rows: list, column: str) -> float | None:
    """The best value of a metric among rows (anything with a `metrics` dict): the highest, or the lowest loss and
    time; None where fewer than two rows have it."""
    values = [r.metrics[column] for r in rows if column in r.metrics]
    if len(values) < 2:
        return None
    return min(values) if column in LOWER_IS_BETTER else max(values)


def metric_text(value: float | None, column: str) -> str:
    if value is None:
        return ""
    if column in PERCENT:
        return f"{value:.2%}"
    if column == "train_seconds":
        return f"{value:.1f}"
    if column == "images_per_second":
        return f"{value:,.0f}"
    return f"{value:.4f}"


def param_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def register_filters(app: Flask) -> None:
    app.jinja_env.filters["metric"] = metric_text
    app.jinja_env.filters["param"] = param_text
    app.jinja_env.globals["TITLES"] = TITLES
    app.jinja_env.globals["best_of"] = best_of
    app.jinja_env.filters["storage"] = shown_storage
