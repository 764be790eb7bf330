"""`dvc plots show` and `dvc plots diff` as one HTML page that needs no network: DVC's own page loads Vega from a
CDN, so on an offline GPU box its plots stay blank.

    python -m imgclf.experiments.plots_page                    # the workspace's plots: dvc_plots/offline.html
    python -m imgclf.experiments.plots_page main HEAD          # revisions overlaid, as `dvc plots diff main HEAD`

DVC gives the plots (`--json`); vl-convert draws each Vega-Lite spec to SVG in this process, and the pictures are
embedded in the page, so it is one file with no script and no link: open it anywhere, mail it, attach it.
"""

import argparse
import base64
import html
import json
from pathlib import Path

from imgclf.atomic import write_text
from imgclf.cli import COMMAND, exit_on_error
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.vega import LIVE_SERIES, SERIES_TITLES, readable
from imgclf.experiments.workspace_params import mismatch_warning

DEFAULT_OUT = Path("dvc_plots/offline.html")  # beside DVC's own dvc_plots/index.html

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.05em; font-family: monospace; margin: 1.5em 0 0.4em; }
section { display: inline-block; vertical-align: top; margin: 0 2em 1em 0; }
section.revisions { display: block; } .row { display: flex; gap: 1em; overflow-x: auto; }
figure { margin: 0; } figcaption { font-size: 0.9em; color: #555; }
img { max-width: 900px; border: 1px solid #ddd; } .row img { max-width: 420px; }
.warning { background: #fff3cd; border: 1px solid #e0c36a; padding: 0.6em 1em; max-width: 900px; }
"""


def plots_json(revisions: list[str], project: Path) -> dict:
    """DVC's plots of the workspace (`dvc plots show`), or of `revisions` overlaid (`dvc plots diff`). DVC's
    --json writes the pictures it names beside its own page, in dvc_plots/."""
    command = ["plots", "diff", *revisions] if revisions else ["plots", "show"]
    return json.loads(dvc(*command, "--json", cwd=project) or "{}")


def title_of(path: str) -> str:
    series = path.removeprefix(f"{LIVE_SERIES}/").removesuffix(".tsv")
    return SERIES_TITLES.get(series, path)


def plot_sections(plots: dict, project: Path) -> list[str]:
    """One <section> a plot file: its Vega-Lite spec drawn as inline SVG, or its pictures (one a revision)."""
    import vl_convert

    sections = []
    for path, entries in sorted(plots.get("data", {}).items()):
        parts = []
        for entry in entries:
            if entry.get("type") == "vega":
                spec = readable(entry["content"])
                if path.startswith(LIVE_SERIES):
                    spec["title"] = title_of(path)
                parts.append(vl_convert.vegalite_to_svg(spec))
            elif entry.get("type") == "image":
                picture = (Path(project) / entry["url"]).read_bytes()
                source = "data:image/png;base64," + base64.b64encode(picture).decode()
                revisions = html.escape(", ".join(entry.get("revisions", [])))
                caption = f"<figcaption>{revisions}</figcaption>"
                parts.append(f'<figure><img src="{source}" alt="{html.escape(path)}">{caption}</figure>')
        pictures = sum(entry.get("type") == "image" for entry in entries)
        if pictures > 1:  # one picture a revision: side by side, scrolling sideways past the window's width
            row = f'<div class="row">{"".join(parts)}</div>'
            sections.append(f'<section class="revisions"><h2>{html.escape(path)}</h2>{row}</section>')
        elif parts:
            sections.append(f"<section><h2>{html.escape(path)}</h2>{''.join(parts)}</section>")
    return sections


def write_plots_page(project: Path, revisions: list[str], out: Path) -> Path:
    project = Path(project)
    plots = plots_json(revisions, project)
    shown = ", ".join(revisions) if revisions else "the workspace"
    sections = plot_sections(plots, project) or ["<p>No plots: run <code>dvc repro</code> first.</p>"]
    warning = mismatch_warning(project) if len(revisions) < 2 else None  # the workspace is on the page
    if warning:
        sections.insert(0, f'<p class="warning">Warning: {html.escape(warning)}</p>')
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Plots of {html.escape(shown)}</title>'
        f"<style>{STYLE}</style></head><body><h1>Plots of {html.escape(shown)}</h1>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
    out = out if out.is_absolute() else project / out
    write_text(out, page)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revisions", nargs="*", help="git revisions or experiments to overlay (none: the workspace)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the page to write (default {DEFAULT_OUT})")
    args = parser.parse_args()
    print(write_plots_page(Path("."), args.revisions, args.out))


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
