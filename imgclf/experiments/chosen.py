"""A sweep of some of a lab's experiments (--only): its report is partial by choice, not because the experiments
left out "did not finish"; those words stay for the chosen experiments that failed."""

from imgclf.experiments.labs import Experiment
from imgclf.experiments.provenance import partial_reason
from imgclf.experiments.repeats import Group


def chosen_reason(chosen: set[str], planned: list[Experiment], groups: list[Group], *rest: object) -> str | None:
    """partial_reason (`rest`: its other arguments) for a run of the `chosen` experiments: "by choice" first when
    any experiment left out has no finished run (one from an earlier sweep counts), then why the chosen ones fall
    short, if they do."""
    found = {g.name for g in groups}
    left_out = [run for run in planned if run.name not in chosen and run.name not in found]
    if not left_out:
        return partial_reason(planned, groups, *rest)
    asked = [run for run in planned if run.name in chosen]
    reason = f"by choice, --only: {len(asked)} of the lab's {len(planned)} experiments"
    failed = [run.name for run in asked if run.name not in found]
    if failed:
        return f"{reason}; {len(failed)} of them did not finish ({', '.join(failed[:3])})"
    more = partial_reason(asked, groups, *rest) if asked else None
    return f"{reason}; {more}" if more else reason
