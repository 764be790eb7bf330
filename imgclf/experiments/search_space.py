"""A lab's search space (sweeps.yaml `search:`): each params key's range over the lab's base, as `imgclf tune` samples
it through Optuna. A range is checked whole before any trial runs: each bad spec is one line naming its key."""

import json
import math
from dataclasses import dataclass

from imgclf.errors import PipelineError

SPEC_KEYS = ({"low", "high"}, {"low", "high", "log"}, {"low", "high", "step"}, {"choice"})


@dataclass(frozen=True)
class Range:
    key: str  # a dotted params.yaml key, e.g. train.lr
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choice: tuple = ()  # categorical values; a list value (layer widths) is one choice

    @property
    def is_int(self) -> bool:
        return not self.choice and all(isinstance(v, int) and not isinstance(v, bool) for v in (self.low, self.high))

    def ends(self) -> list:
        """The values a trial can take at the edges of the range: each choice, or low and high."""
        return list(self.choice) if self.choice else [self.low, self.high]


Space = tuple[Range, ...]


def parse_space(spec: object, where: str) -> Space:
    """sweeps.yaml's `search:` block: {key: {low, high[, log | step]} or {choice: [...]}}."""
    if spec is None:
        return ()
    if not isinstance(spec, dict) or not spec:
        example = "train.lr: {low: 0.001, high: 0.3, log: true}"
        raise PipelineError(f"{where}: must map params keys to ranges, e.g. {example}")
    return tuple(_range(key, value, f"{where}.{key}") for key, value in spec.items())


def _range(key: str, spec: object, where: str) -> Range:
    if not isinstance(spec, dict) or set(spec) not in SPEC_KEYS:
        wanted = "{low, high} (with log: true or a step) or {choice: [...]}"
        raise PipelineError(f"{where}: give {wanted}; got {spec!r}")
    if "choice" in spec:
        if not isinstance(spec["choice"], list) or not spec["choice"]:
            raise PipelineError(f"{where}.choice: must be a non-empty list of values")
        encoded = [json.dumps(v, sort_keys=True) for v in spec["choice"]]
        if len(set(encoded)) < len(encoded):
            raise PipelineError(f"{where}.choice: lists a value twice")
        return Range(key, choice=tuple(spec["choice"]))
    low, high = spec["low"], spec["high"]
    numbers = [v for v in (low, high, spec.get("step", 1)) if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) < 3 or not all(math.isfinite(v) for v in numbers):
        raise PipelineError(f"{where}: low, high and step must be numbers; got low {low!r}, high {high!r}")
    if low >= high:
        raise PipelineError(f"{where}: low ({low}) must be below high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise PipelineError(f"{where}.log: true or false; got {log!r}")
    if log and low <= 0:
        raise PipelineError(f"{where}: a log range needs low above 0; got {low}")
    step = spec.get("step")
    if step is not None and (step <= 0 or step > high - low):
        raise PipelineError(f"{where}.step: must be above 0 and at most high - low ({high - low}); got {step}")
    whole = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high))
    if whole and step is not None and not isinstance(step, int):
        raise PipelineError(f"{where}.step: an integer range takes a whole step; got {step} (low: {float(low)} makes "
                            "the range one of floats)")  # fmt: skip
    return Range(key, low=low, high=high, log=log, step=step)


def sample(trial, space: Space) -> dict[str, object]:
    """The trial's value of each key, asked of Optuna's `trial` (its sampler decides). A choice of lists is asked
    as their JSON text, which Optuna's categorical distributions take, and read back as lists."""
    values: dict[str, object] = {}
    for r in space:
        if r.choice:
            texts = [json.dumps(v, sort_keys=True) for v in r.choice]
            values[r.key] = json.loads(trial.suggest_categorical(r.key, texts))
        elif r.is_int:
            values[r.key] = trial.suggest_int(r.key, r.low, r.high, step=int(r.step or 1), log=r.log)
        else:
            values[r.key] = trial.suggest_float(r.key, float(r.low), float(r.high), step=r.step, log=r.log)
    return values


def values_of(params: dict[str, object], space: Space) -> dict[str, object]:
    """A finished trial's Optuna params as params.yaml values (a choice's JSON text read back)."""
    return {r.key: json.loads(params[r.key]) if r.choice else params[r.key] for r in space if r.key in params}


def distributions_of(space: Space) -> dict:
    """The Optuna distribution `sample` asks each key from: an experiment of the past enters a study with these."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found = {}
    for r in space:
        if r.choice:
            found[r.key] = CategoricalDistribution([json.dumps(v, sort_keys=True) for v in r.choice])
        elif r.is_int:
            found[r.key] = IntDistribution(r.low, r.high, log=r.log, step=int(r.step or 1))
        else:
            found[r.key] = FloatDistribution(float(r.low), float(r.high), log=r.log, step=r.step)
    return found


def sampled_params(values: dict[str, object], space: Space) -> tuple[dict[str, object], str | None]:
    """A run's values of the space's keys as the Optuna params a trial would have sampled (a choice as its JSON
    text), and the first key whose value the space cannot sample (missing, between a choice's values or a step's
    points, out of range), or None."""
    params: dict[str, object] = {}
    for r in space:
        value = in_range(values.get(r.key), r)
        if value is None:
            return params, r.key
        params[r.key] = value
    return params, None


def in_range(value: object, r: Range) -> object | None:
    if r.choice:
        return next((json.dumps(c, sort_keys=True) for c in r.choice if same_value(value, c)), None)
    number = as_number(value)
    if number is None or not r.low <= number <= r.high:
        return None
    points = (number - r.low) / (r.step or 1)
    if (r.step or r.is_int) and abs(points - round(points)) > 1e-9:
        return None
    return round(number) if r.is_int else number


def as_number(value: object) -> float | None:
    """A params.yaml number; YAML 1.1 reads `1e-07` as text."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def same_value(a: object, b: object) -> bool:
    """Two params' values are the same setting: numbers by value (YAML 1.1 reads `1e-07` as text), lists item by
    item, anything else (a bool is no number) by its JSON."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_value, a, b))
    x, y = as_number(a), as_number(b)
    if x is not None and y is not None:
        return x == y
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
