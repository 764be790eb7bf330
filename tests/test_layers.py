"""The house's layers, read from the imports: each room imports only from itself and the layers below it, and no
module imports, through others, itself."""

import ast
from pathlib import Path

from tests.helpers import REPO

LAYERS = [  # top first; the rooms of a layer sit side by side and import nothing of each other
    ["stages"],
    ["imgclf.fitting", "imgclf.evaluation", "imgclf.serving", "imgclf.ui"],
    ["imgclf.modeling", "imgclf.distribution", "imgclf.search"],
    ["imgclf.data", "imgclf.experiments"],
    ["imgclf.command", "imgclf.stage_deps"],
    ["imgclf.config", "imgclf.livelog", "imgclf.timing"],
    ["imgclf.cli"],
    ["imgclf.experiments.dvc_command", "imgclf.exp_workspace", "imgclf.native_log", "imgclf.scratch"],
    ["imgclf.atomic", "imgclf.markdown_table", "imgclf.progress", "imgclf.machine"],
    ["imgclf.disk_space"],
    ["imgclf.errors"],
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def room_of(module: str) -> str:
    return next(room for room in RANK if module == room or module.startswith(room + "."))


def imports(known_only: bool = True) -> dict[str, set[str]]:
    """Each module of imgclf/ and stages/ -> the modules of imgclf it imports (anywhere in it, lazily too); with
    known_only=False, each `from imgclf... import` as written, whether or not that module exists."""
    found = {}
    for path in sorted([*(REPO / "imgclf").rglob("*.py"), *(REPO / "stages").glob("*.py")]):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("imgclf"):
                names |= {f"{node.module}.{alias.name}" for alias in node.names if known_only} | {node.module}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names if alias.name.startswith("imgclf")}
        found[module_of(path)] = names
    if not known_only:
        return found
    return {module: {name for name in names if name in found} for module, names in found.items()}


def test_every_import_of_ours_names_a_module_that_exists():
    """What the two tests below read: an import of a module moved away would hide from them."""
    graph = imports()
    missing = [f"{module} imports {name}" for module, names in imports(known_only=False).items() for name in names
               if name not in graph]  # fmt: skip
    assert missing == []


def test_every_module_has_a_room_and_imports_only_its_own_and_the_rooms_below():
    wrong = []
    for module, names in imports().items():
        if module == "imgclf":
            continue
        mine = room_of(module)
        for name in names:
            theirs = room_of(name)
            if theirs != mine and RANK[theirs] <= RANK[mine]:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_no_module_imports_itself_through_others():
    graph = imports()
    done: set[str] = set()
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for name in sorted(graph[module]):
            if name in path:
                cycles.append(" -> ".join([*path[path.index(name) :], name]))
            elif name not in done:
                visit(name, [*path, name])
        done.add(module)

    for module in graph:
        if module not in done:
            visit(module, [module])
    assert cycles == []
