"""What may import what (issue 9; docs/architecture.md): read from the source, every
import statement, module level or inside a function.

- the domain imports nothing from the store, the projections, the replay tools, the
  service layer, the application, the composition root, the API or the CLI (nor SQL,
  nor FastAPI);
- the projections import nothing from the write side (application, service layer), the
  composition root, the API or the CLI;
- the API and the CLI reach the ledger only through the composition root and the service
  layer: no import of the application module, the store, the configuration parser or the
  event-sourcing library;
- only the composition root reads the environment.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ledger"


def _module(path: Path) -> str:
    if not path.is_relative_to(SRC.parent):
        return "ledger.domain." + path.stem  # a probe written elsewhere (the test below)
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _files(*packages: str) -> list[Path]:
    out: list[Path] = []
    for package in packages:
        target = SRC / package
        out.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")])
    return out


def _shown(path: Path) -> str:
    return str(path.relative_to(SRC.parent)) if path.is_relative_to(SRC.parent) else str(path)


def _violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in files:
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{_shown(path)} imports {name}")
    return bad


def test_the_domain_imports_no_other_layer():
    forbidden = ("ledger.store", "ledger.projections", "ledger.replay", "ledger.service",
                 "ledger.application", "ledger.bootstrap", "ledger.config", "ledger.api",
                 "ledger.cli", "ledger.reports", "ledger.report", "ledger.demo",
                 "fastapi", "starlette", "psycopg", "sqlite3", "typer")
    assert _violations(_files("domain"), forbidden) == []


def test_the_projections_import_nothing_of_the_write_side():
    forbidden = ("ledger.application", "ledger.service", "ledger.bootstrap", "ledger.api",
                 "ledger.cli", "ledger.demo")
    assert _violations(_files("projections"), forbidden) == []


def test_the_replay_tools_import_nothing_of_the_write_side():
    forbidden = ("ledger.application", "ledger.service", "ledger.api", "ledger.cli")
    assert _violations(_files("replay"), forbidden) == []


def test_the_api_and_the_cli_reach_the_ledger_through_the_root_and_the_services():
    forbidden = ("ledger.application", "ledger.store", "ledger.config", "eventsourcing")
    assert _violations(_files("api", "cli", "report", "reports"), forbidden) == []


def test_only_the_composition_root_reads_the_environment():
    readers = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "bootstrap.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                    and isinstance(node.value, ast.Name) and node.value.id == "os"
                    and not _writes_environ(tree, node)):
                readers.append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    assert readers == []


def _writes_environ(tree: ast.AST, node: ast.Attribute) -> bool:
    """``os.environ.update(...)``: handing settings to child processes is not reading."""
    for parent in ast.walk(tree):
        if (isinstance(parent, ast.Attribute) and parent.value is node
                and parent.attr == "update"):
            return True
    return False


@pytest.mark.parametrize("planted", ["from ledger.application import Ledger",
                                     "import ledger.store.sql",
                                     "def f():\n    from ..store import sql\n"])
def test_a_planted_import_is_found(tmp_path, planted):
    """The checker sees every import form (the tests above cannot pass vacuously)."""
    path = tmp_path / "probe.py"
    path.write_text(planted + "\n", encoding="utf-8")
    assert _violations([path], ("ledger.application", "ledger.store"))
