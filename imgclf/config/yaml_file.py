"""Reading the repository's YAML files (params.yaml, sweeps.yaml) as plain data, with one-line errors.

Stricter than YAML itself, for files a user may receive from someone else:
- a file over MAX_BYTES is refused before it is parsed (these files are a few KB);
- a key twice in one mapping is refused (PyYAML would keep the last silently; DVC refuses it);
- aliases (`*name`) are refused: nine anchors of nine aliases each make 9**9 values from a few hundred bytes,
  which anything that walks the data (ours, DVC's) expands until memory runs out.
"""

from pathlib import Path

import yaml

from imgclf.errors import PipelineError

MAX_BYTES = 256 * 1024


class _Refused(yaml.YAMLError):
    def __init__(self, problem: str, mark) -> None:
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                f"the alias *{event.anchor} is refused (aliases can expand without bound); write its value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    twice = f"the key {key_node.value} is given twice in one mapping; keep one"
                    raise _Refused(twice, key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


def load_text(text: str) -> object:
    """YAML text as plain data, by the rules above (but for the size); yaml.YAMLError when it breaks one."""
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader: plain data only


def read_yaml(path: Path) -> object:
    """A YAML file of the repository as plain data; a missing, oversized or malformed one is a one-line error."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PipelineError(
                f"{path}: {size / 1e6:.1f} MB; a file of settings is a few KB (at most {MAX_BYTES // 1024} KB is "
                "read): keep the data it lists elsewhere"
            )
        return load_text(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run from the repository root, where {path.name} lives") from None
    except _Refused as e:
        raise PipelineError(f"{path} line {e.problem_mark.line + 1}: {e.problem}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PipelineError(f"{path}:{where} is not valid YAML: {getattr(e, 'problem', e)}") from None
