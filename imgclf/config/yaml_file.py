"""Reading the repository's YAML files (params.yaml, sweeps.yaml) as plain data, with one-line errors.

Stricter than YAML itself, for files a user may receive from someone else:
- a file over MAX_BYTES is refused before it is parsed (these files are a few KB);
- a key twice in one mapping is refused (PyYAML would keep the last silently; DVC refuses it);
- aliases (`*name`) are refused in params.yaml: nine anchors of nine aliases each make 9**9 values from a few hundred
  bytes, which anything that walks the data (ours, DVC's) expands until memory runs out. sweeps.yaml, which only we
  read, may share blocks with anchors, aliases and merge keys (`<<: *name`), as long as the data they expand to has
  at most MAX_EXPANDED values.
"""

from pathlib import Path

import yaml

from imgclf.errors import PipelineError

MAX_BYTES = 256 * 1024
MAX_EXPANDED = 100_000  # values the data of a file with aliases may expand to (sweeps.yaml: about 2,000)


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


class SharingLoader(StrictLoader):
    """StrictLoader that takes aliases, refusing a document whose data they would expand past MAX_EXPANDED."""

    def compose_node(self, parent, index):
        return yaml.SafeLoader.compose_node(self, parent, index)

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None and expanded_size(node) > MAX_EXPANDED:
            problem = f"its aliases expand to more than {MAX_EXPANDED:,} values; write the shared blocks out"
            raise _Refused(problem, node.start_mark)
        return node


def expanded_size(root: yaml.Node) -> int:
    """How many values the data under `root` holds with every alias written out, counted once per node (and a
    node inside itself as too many): linear in the file, however far its aliases would expand."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            return MAX_EXPANDED + 1
        open_nodes.add(id(node))
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [])  # fmt: skip
        sizes[id(node)] = min(MAX_EXPANDED + 1, 1 + sum(size(child) for child in children))
        open_nodes.discard(id(node))
        return sizes[id(node)]

    return size(root)


def load_text(text: str, aliases: bool = False) -> object:
    """YAML text as plain data, by the rules above (but for the size); yaml.YAMLError when it breaks one.
    `aliases`: take anchors, aliases and merge keys, within MAX_EXPANDED values."""
    return yaml.load(text, Loader=SharingLoader if aliases else StrictLoader)  # SafeLoaders: plain data only


def read_yaml(path: Path, aliases: bool = False) -> object:
    """A YAML file of the repository as plain data; a missing, oversized or malformed one is a one-line error.
    `aliases`: as load_text's (sweeps.yaml)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PipelineError(
                f"{path}: {size / 1e6:.1f} MB; a file of settings is a few KB (at most {MAX_BYTES // 1024} KB is "
                "read): keep the data it lists elsewhere"
            )
        return load_text(path.read_text(encoding="utf-8"), aliases)
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run from the repository root, where {path.name} lives") from None
    except _Refused as e:
        raise PipelineError(f"{path} line {e.problem_mark.line + 1}: {e.problem}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PipelineError(f"{path}:{where} is not valid YAML: {getattr(e, 'problem', e)}") from None
