"""The layers of the code, enforced: nothing imports upward, no stage imports another, nothing
shipped imports the developer tools (devtools/, deploy/, tests/, benchmarks/).

The table below is the one in the README's layout section; keep them in step. A package may
import its own modules and any package of a LOWER layer; two packages of one layer never
import each other (so a stage talks to another stage only through a topic, and shares code
only through services/common/ or schemas/). Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: contracts: topic names, message models
    ("schemas",),
    # 1: shared code of every service: settings, Kafka, Elasticsearch, dead letters, fold, netguard
    ("services.common",),
    # 2: the query layer, pure: user syntax, filters, Elasticsearch bodies, answer shaping
    ("services.query",),
    # 3: the stages (write side, one topic to the next) and the read service (runs query bodies)
    ("services.ingestor", "services.extractor", "services.indexer", "services.alerts")
    + ("services.search",),
    # 4: the HTTP process, its one composition root
    ("services.api",),
    # 5: operators' commands; 6: the demo corpus (its stack, `make demo`, is devtools/demo.py)
    ("services.ops",),
    ("services.demo",),
    # 7: the command line: every service registers its commands
    ("services.cli",),
)
ROOTS = ("schemas", "services")
# Not shipped (pyproject installs schemas* and services* only): code there may import the
# shipped packages, never the reverse, or the installed package would fail to import.
UNSHIPPED = ("devtools", "deploy", "tests", "benchmarks")


def layer_of(module: str) -> tuple[int, str] | None:
    """(layer, package) of a project module; None for a third-party one."""
    if module == "services":  # the namespace itself (empty)
        return 1, "services.common"
    for level, packages in enumerate(LAYERS):
        for package in packages:
            if module == package or module.startswith(package + "."):
                return level, package
    if module.split(".")[0] in ROOTS:
        raise AssertionError(f"{module} is in no layer: add its package to LAYERS")
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) of every import in the file, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield node.lineno, base


def violations(root: Path) -> list[str]:
    found = []
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            module = module_name(path, root)
            here = layer_of(module)
            assert here is not None
            for line, imported in imports(path, module):
                if imported.split(".")[0] in UNSHIPPED:
                    found.append(f"{path.relative_to(root)}:{line} imports {imported}: not shipped")
                    continue
                there = layer_of(imported)
                if there is None or there[1] == here[1]:
                    continue
                where = f"{path.relative_to(root)}:{line} imports {imported}"
                if there[0] > here[0]:
                    found.append(f"{where}: upward ({here[1]} is below {there[1]})")
                elif there[0] == here[0]:
                    found.append(f"{where}: sibling ({here[1]} and {there[1]} share a layer)")
    return found


def test_no_module_imports_upward_or_a_sibling_of_its_layer() -> None:
    assert violations(REPO) == []


def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_finds_a_stage_importing_another_stage(tmp_path: Path) -> None:
    tree = _plant(
        tmp_path,
        {
            "schemas/__init__.py": "",
            "services/indexer/app.py": "def f():\n    from services.extractor.fold import x\n",
            "services/extractor/fold.py": "x = 1\n",
        },
    )
    assert violations(tree) == [
        "services/indexer/app.py:2 imports services.extractor.fold: sibling "
        "(services.indexer and services.extractor share a layer)"
    ]


def test_the_checker_finds_a_lower_layer_importing_a_higher_one(tmp_path: Path) -> None:
    tree = _plant(
        tmp_path,
        {
            "schemas/raw.py": "import services.common.kafka\n",
            "services/search/cli.py": "from ..api import app\n",
            "services/common/kafka.py": "from schemas import raw\n",
        },
    )
    assert violations(tree) == [
        "schemas/raw.py:1 imports services.common.kafka: upward (schemas is below services.common)",
        "services/search/cli.py:1 imports services.api: upward "
        "(services.search is below services.api)",
    ]


def test_the_checker_finds_a_shipped_module_importing_a_developer_tool(tmp_path: Path) -> None:
    tree = _plant(
        tmp_path,
        {
            "schemas/__init__.py": "",
            "services/demo/cli.py": "def f():\n    from devtools.supervisor import Stack\n",
        },
    )
    assert violations(tree) == ["services/demo/cli.py:2 imports devtools.supervisor: not shipped"]


def test_every_package_of_the_tree_has_a_layer() -> None:
    for top in ROOTS:
        for path in (REPO / top).rglob("*.py"):
            assert layer_of(module_name(path, REPO)) is not None


def test_the_readme_layout_shows_the_same_layers() -> None:
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1].isdigit():
            rows[int(cells[1])] = cells[2]
    assert sorted(rows) == list(range(len(LAYERS)))
    for level, packages in enumerate(LAYERS):
        for package in packages:
            path = package.replace(".", "/")
            assert f"`{path}/`" in rows[level] or f"`{path}.py`" in rows[level], (level, package)
