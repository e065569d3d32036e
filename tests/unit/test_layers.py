"""The package tree shows the architecture, and imports go one way: a module imports from its own
layer and the layers below it, never above (conformance/__init__.py lists the layers)."""
from __future__ import annotations

import ast
from pathlib import Path

from conformance.spec.catalogue import PACKAGE

# lowest first; a layer may import the layers before it
LAYERS = ("dpop", "spec", "wire", "judging", "report", "pytest_plugin")
BESIDE = "model_target"  # the strict model server: only dpop and spec below it; report and the plugin start it
MAY_IMPORT_BESIDE = ("report", "pytest_plugin")
TOP = ("__main__", "suite")  # the command line and the suite's test modules sit on top of everything


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name inside the package ("conformance.wire.flows" -> "wire")."""
    parts = module.split(".")
    if parts[0] != "conformance" or len(parts) < 2:
        return None
    return parts[1]


def imports_of(path: Path, package_root: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, relative ones resolved, those inside
    functions (lazy imports) included."""
    module_parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if module_parts[-1] == "__init__":
        module_parts = module_parts[:-1]
    package = module_parts if path.name == "__init__.py" else module_parts[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
                if not node.module:  # from . import x: each name is a module of the package
                    names = [".".join(base + [alias.name]) for alias in node.names]
            else:
                names = [node.module]
            out += [(node.lineno, name) for name in names]
    return out


def allowed(importer: str, imported: str) -> bool:
    if importer == imported or imported is None:
        return True
    if importer in TOP:
        return True
    if imported in ("__init__",):
        return True
    if imported == BESIDE:
        return importer in MAY_IMPORT_BESIDE
    if importer == BESIDE:
        return imported in ("dpop", "spec")
    if importer in LAYERS and imported in LAYERS:
        return LAYERS.index(imported) <= LAYERS.index(importer)
    return imported not in TOP


def violations(package_root: Path) -> list[str]:
    out = []
    for path in sorted(package_root.rglob("*.py")):
        importer = layer_of(".".join(path.relative_to(package_root.parent).with_suffix("").parts))
        if importer is None:  # conformance/__init__.py
            continue
        for line, module in imports_of(path, package_root):
            imported = layer_of(module)
            if imported is not None and not allowed(importer, imported):
                out.append(f"{path.relative_to(package_root.parent)}:{line}: {importer} imports {module} ({imported})")
    return out


def test_no_module_imports_from_a_layer_above_it():
    assert violations(PACKAGE) == []


def test_the_tree_has_exactly_the_layers():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == {*LAYERS, BESIDE, "suite"}
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py", "__main__.py"}  # no module outside a layer


def test_the_check_finds_an_import_from_above(tmp_path):
    root = tmp_path / "conformance"
    for layer in ("wire", "report", "model_target"):
        (root / layer).mkdir(parents=True)
        (root / layer / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "wire" / "client.py").write_text("def f():\n    from ..report import results\n")
    (root / "model_target" / "app.py").write_text("from conformance.wire.client import f\n")
    (root / "report" / "results.py").write_text("from ..wire import client\nfrom ..model_target import app\n")
    assert violations(root) == [
        "conformance/model_target/app.py:1: model_target imports conformance.wire.client (wire)",
        "conformance/wire/client.py:2: wire imports conformance.report (report)",
    ]
