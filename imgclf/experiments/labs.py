"""The labs' hyperparameter studies (sweeps.yaml), each expanded into named experiments: params.yaml overrides
that `dvc exp run -S` takes. Every experiment is validated like params.yaml before anything is queued."""

import copy
import dataclasses
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from imgclf.config.params import parse_params
from imgclf.config.yaml_file import read_yaml
from imgclf.errors import PipelineError
from imgclf.experiments.search_space import Space, parse_space

Overrides = dict[str, object]  # dotted params.yaml key -> value


@dataclass(frozen=True)
class Sweep:
    keys: tuple[str, ...]  # varied together: point i takes value i of each
    points: tuple[Overrides, ...]


@dataclass(frozen=True)
class Lab:
    name: str
    title: str
    base: Overrides
    sweeps: tuple[Sweep, ...]
    tiny: Overrides
    published: dict[str, str]  # experiment name -> the lab's own published result for it
    search: Space = ()  # what `imgclf tune` samples over the base

    @property
    def swept_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key for sweep in self.sweeps for key in sweep.keys))


@dataclass(frozen=True)
class Experiment:
    name: str
    overrides: Overrides  # everything the experiment sets, base first
    point: Overrides  # the swept values that make it this experiment, as its sweep lists them


def load_labs(path: Path = Path("sweeps.yaml")) -> dict[str, Lab]:
    raw = read_yaml(path, aliases=True)  # labs share blocks through anchors and merge keys
    if not isinstance(raw, dict) or not raw:
        raise PipelineError(f"{path}: must map each lab's name to its title, base, sweeps and tiny")
    return {name: _lab(name, spec, f"{path}: {name}") for name, spec in raw.items()}


def _lab(name: str, spec: object, where: str) -> Lab:
    fields = ("title", "base", "sweeps", "tiny")
    if not isinstance(spec, dict) or not set(fields) <= set(spec) <= {*fields, "published", "search"}:
        raise PipelineError(f"{where}: must have the keys {', '.join(fields)} (and, optionally, published and search)")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name == "partial":
        raise PipelineError(f"{where}: a lab name may hold only letters, digits and _, and is not 'partial'")
    for key in ("base", "tiny"):
        if not isinstance(spec[key], dict):
            raise PipelineError(f"{where}.{key}: must map params keys (like train.lr) to values")
    if not isinstance(spec["sweeps"], list):
        raise PipelineError(f"{where}.sweeps: must be a list of sweeps, each mapping params keys to lists of values")
    sweeps = tuple(_sweep(s, f"{where}.sweeps[{i}]") for i, s in enumerate(spec["sweeps"]))
    unset = [key for sweep in sweeps for key in sweep.keys if key not in spec["base"]]
    if unset:
        raise PipelineError(f"{where}.base: set {unset[0]} too (the value its sweep varies from)")
    published = spec.get("published") or {}
    search = parse_space(spec.get("search"), f"{where}.search")
    published = {k: str(v) for k, v in published.items()}
    lab = Lab(name, str(spec["title"]), spec["base"], sweeps, spec["tiny"], published, search)
    names = [run.name for run in experiments(lab)]
    unknown = [key for key in published if key not in names]
    if unknown:
        raise PipelineError(f"{where}.published: no experiment {unknown[0]}; the lab's are {', '.join(names)}")
    return lab


def _sweep(spec: object, where: str) -> Sweep:
    if not isinstance(spec, dict) or not spec or not all(isinstance(v, list) and v for v in spec.values()):
        raise PipelineError(f"{where}: must map params keys to non-empty lists of values")
    lengths = {len(values) for values in spec.values()}
    if len(lengths) > 1:
        raise PipelineError(f"{where}: keys that change together need as many values each; got {sorted(lengths)}")
    points = tuple(dict(zip(spec, values, strict=True)) for values in zip(*spec.values(), strict=True))
    return Sweep(tuple(spec), points)


def experiments(
    lab: Lab, tiny: bool = False, extra: Overrides | None = None, only_sweep: int | None = None
) -> list[Experiment]:
    """The lab's distinct experiments in sweep order; `tiny` adds the lab's tiny-sample overrides, `extra` the
    user's own (a swept key cannot be one of them: that would collapse the sweep); `only_sweep` (from 1) keeps
    one sweep's experiments."""
    extra = extra or {}
    if only_sweep is not None and not 1 <= only_sweep <= len(lab.sweeps):
        raise PipelineError(f"--sweep {only_sweep}: lab {lab.name} has sweeps 1 to {len(lab.sweeps)}")
    clash = [key for key in extra if key in lab.swept_keys]
    if clash:
        raise PipelineError(f"-S {clash[0]}: lab {lab.name} sweeps this key; leave it out, or edit sweeps.yaml")
    shared = shared_overrides(lab, tiny, extra)
    if not lab.sweeps:  # a recipe: its base alone
        return [Experiment(f"{lab.name}-base", shared, {})]
    found: dict[str, Experiment] = {}
    chosen: dict[str, Overrides] = {}  # in the order of the chosen sweeps -> the point as the sweep lists it
    for number, sweep in enumerate(lab.sweeps, 1):
        for point in sweep.points:
            overrides = {**shared, **point}
            key = json.dumps({k: overrides[k] for k in lab.swept_keys}, sort_keys=True)
            at_base = all(overrides[k] == lab.base[k] for k in lab.swept_keys)
            name = f"{lab.name}-{'base' if at_base else slug(point, lab.swept_keys)}"
            found.setdefault(key, Experiment(name, overrides, point))
            if only_sweep in (None, number):
                chosen.setdefault(key, point)
    names = [e.name for e in found.values()]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PipelineError(f"lab {lab.name}: two experiments would both be named {duplicates.pop()}")
    return [dataclasses.replace(found[key], point=point) for key, point in chosen.items()]


def shared_overrides(lab: Lab, tiny: bool, extra: Overrides | None) -> Overrides:
    """What every experiment of the lab sets before its point: the base, the tiny sample's, the user's -S."""
    return {**lab.base, **(lab.tiny if tiny else {}), **(extra or {})}


def find_lab(labs: dict[str, Lab], name: str) -> Lab:
    if name not in labs:
        raise PipelineError(f"no lab {name!r} in sweeps.yaml; choose one of: {', '.join(labs)}")
    return labs[name]


def short_key(key: str, keys: tuple[str, ...]) -> str:
    """The shortest dotted suffix of `key` that no other of `keys` ends with: train.mlp.hidden_units -> hidden_units,
    train.augment.enabled -> augment.enabled beside train.early_stopping.enabled."""
    parts = key.split(".")
    for n in range(1, len(parts)):
        suffix = ".".join(parts[-n:])
        if not any(other != key and (other == suffix or other.endswith("." + suffix)) for other in keys):
            return suffix
    return key


def slug(point: Overrides, keys: tuple[str, ...]) -> str:
    """A git-ref-safe name from the point's first key (the others change with it), short among the lab's swept
    `keys`: train.lr=0.05 -> lr-0.05; train.mlp.hidden_units=[800, 500] -> hidden_units-800x500."""
    key, value = next(iter(point.items()))
    shown = "x".join(map(str, value)) if isinstance(value, list) else str(value).lower()
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{short_key(key, keys)}-{shown}")


def best_name(lab: Lab) -> str:
    return f"{lab.name}-best"


SEED_KEY = "train.seed"
_SEEDED = re.compile(r"(.+)-seed(\d+)")


def with_seeds(runs: list[Experiment], seeds: list[int]) -> list[Experiment]:
    """Each experiment once per training seed, as NAME-seedS with train.seed set; the split (split.seed) stays."""
    return [
        Experiment(f"{run.name}-seed{seed}", {**run.overrides, SEED_KEY: seed}, run.point)
        for run in runs
        for seed in seeds
    ]


def repeat_of(name: str) -> tuple[str, int | None]:
    """An experiment's name without its seed suffix, and the seed: convpool-base-seed43 -> (convpool-base, 43)."""
    seeded = _SEEDED.fullmatch(name)
    return (seeded[1], int(seeded[2])) if seeded else (name, None)


def best_combination(
    lab: Lab, accuracy: dict[str, float], tiny: bool = False, extra: Overrides | None = None
) -> Experiment:
    """LAB-best: each sweep's best point (by test `accuracy`, of the finished experiments) together. Sweeps that
    vary a key in common (one or two hidden layers; depth with its kernel sizes, or kernel sizes alone) are
    alternatives: the better one's point is taken whole, the other's not at all."""
    bests = []
    for number in range(1, len(lab.sweeps) + 1):
        done = [run for run in experiments(lab, tiny, extra, only_sweep=number) if run.name in accuracy]
        if not done:
            raise PipelineError(f"--best: no experiment of sweep {number} has finished; run the lab first")
        bests.append(max(done, key=lambda run: accuracy[run.name]))
    point: Overrides = {}
    for run in sorted(bests, key=lambda run: accuracy[run.name], reverse=True):
        if not point.keys() & run.point.keys():
            point.update(run.point)
    return Experiment(best_name(lab), {**shared_overrides(lab, tiny, extra), **point}, point)


def flatten(tree: dict, prefix: str = "") -> Overrides:
    """params.yaml's content as dotted keys: the inverse of `apply`."""
    flat: Overrides = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def pinned(committed: dict, run: Experiment) -> Overrides:
    """Every key of the experiment's params: the committed params.yaml, the lab's base, its point. Queued with all
    of them, an experiment never inherits a value from a changed workspace params.yaml."""
    return flatten(apply(committed, run.overrides))


def apply(raw_params: dict, overrides: Overrides) -> dict:
    """params.yaml's content with the dotted keys set, as `dvc exp run -S` would."""
    result = copy.deepcopy(raw_params)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise PipelineError(f"{key}: {part} is not a section of params.yaml")
        node[leaf] = value
    return result


def check(raw_params: dict, runs: list[Experiment]) -> None:
    """Every experiment's params as the stages will validate them, so a typo stops the sweep before it is queued."""
    for run in runs:
        parse_params(apply(raw_params, run.overrides), source=f"experiment {run.name}")


def set_param_values(overrides: Overrides) -> list[str]:
    """`key=value` overrides as `dvc exp run -S` takes them; values in JSON, which DVC's (Hydra's) override grammar
    reads back unchanged."""
    return [f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in overrides.items()]


def set_param_args(overrides: Overrides) -> list[str]:
    """`-S key=value` arguments for DVC's command line."""
    return [arg for value in set_param_values(overrides) for arg in ("-S", value)]


def committed_params(project: Path) -> dict:
    """params.yaml as the last commit has it: the defaults every lab experiment starts from."""
    shown = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=project, capture_output=True, text=True)
    if shown.returncode != 0:
        raise PipelineError("params.yaml is not committed here; a lab starts from the committed params.yaml: commit it")
    return yaml.safe_load(shown.stdout)
