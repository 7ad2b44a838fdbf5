"""Import contracts, read from the source (every import statement, lazy ones inside functions too):
the product (bua_assets) never imports the development tooling (bua_synth), and the held-out world
(bua_synth.alt) is written apart from what it judges: it imports nothing of the estimator, billing,
the asset graph or the backtest."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = REPO / "bua_assets"
TOOLING = REPO / "synth" / "bua_synth"
HELD_OUT = TOOLING / "alt.py"
ESTIMATOR = (
    "bua_assets.estimation",
    "bua_assets.billing",
    "bua_assets.assets",
    "bua_assets.definitions",
    "bua_synth.backtest",
    "bua_synth.rich",
)


def package_of(path: Path) -> str:
    """bua_assets/billing/x.py -> bua_assets.billing; synth/bua_synth/x.py -> bua_synth."""
    root = REPO / "synth" if TOOLING in path.parents else REPO
    return ".".join(path.relative_to(root).parent.parts)


def parse(source: str) -> ast.Module:
    """ast.parse, again when CPython 3.11's AST constructor trips over its own depth counter: the
    counter is shared by the process's threads (cpython gh-106905), so a parse in a thread a
    previous test left running can make this one raise "recursion depth mismatch" on valid code."""
    for _ in range(2):
        try:
            return ast.parse(source)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc):
                raise
    return ast.parse(source)


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a source imports, as absolute names (relative imports resolved in ``package``)."""
    found = set()
    for node in ast.walk(parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def offending(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def violations(paths, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {
        str(p.relative_to(REPO)): offending(imported_modules(p.read_text(), package_of(p)), forbidden) for p in paths
    }
    return {path: hits for path, hits in found.items() if hits}


def test_the_product_never_imports_the_development_tooling():
    files = sorted(PRODUCT.rglob("*.py"))
    assert len(files) > 50
    assert violations(files, ("bua_synth",)) == {}


def test_the_held_out_world_imports_nothing_of_what_it_judges():
    assert violations([HELD_OUT], ESTIMATOR) == {}


@pytest.mark.parametrize(
    ("source", "forbidden", "caught"),
    [
        ("import bua_synth.generator\n", ("bua_synth",), True),
        ("def f():\n    from bua_synth import backtest\n", ("bua_synth",), True),
        ("from bua_assets.estimation.basic import expand_days\n", ESTIMATOR, True),
        ("from bua_assets import billing\n", ESTIMATOR, True),
        ("from bua_assets.calendar import public_holidays\n", ESTIMATOR, False),
        ("import bua_synthetic_other\n", ("bua_synth",), False),
    ],
)
def test_the_contract_check_catches_what_it_should(source, forbidden, caught):
    assert bool(offending(imported_modules(source, "bua_synth"), forbidden)) is caught


def test_relative_imports_are_resolved():
    assert "bua_assets.billing.money" in imported_modules("from ..billing import money\n", "bua_assets.assets")
    assert package_of(HELD_OUT) == "bua_synth" and package_of(PRODUCT / "assets" / "core.py") == "bua_assets.assets"


def test_every_third_party_module_the_product_imports_is_a_declared_dependency():
    """A module imported by bua_assets comes from the standard library, the product itself, or a
    distribution pyproject.toml declares (not one that happens to be installed through another)."""
    import importlib.metadata
    import sys
    import tomllib

    declared = {
        re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    providers = importlib.metadata.packages_distributions()
    imported = set()
    for path in PRODUCT.rglob("*.py"):
        imported |= {m.split(".")[0] for m in imported_modules(path.read_text(), package_of(path))}
    third_party = sorted(m for m in imported - set(sys.stdlib_module_names) - {"bua_assets", "__future__", ""})
    undeclared = {
        m: providers.get(m, ["(not installed)"])
        for m in third_party
        if not {d.lower().replace("_", "-") for d in providers.get(m, [])} & declared
    }
    assert undeclared == {}
    assert {"dagster", "pandas", "pyarrow", "sqlalchemy"} <= set(third_party)


def test_constraints_pin_every_declared_dependency_and_the_installed_versions():
    """constraints.txt (what ./dev installs with) pins every distribution pyproject.toml declares,
    product and test extras, at exactly the version installed here: a dependency added without
    refreshing it (./dev refresh-lock) fails here, not as an unpinned install in CI."""
    import importlib.metadata
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    declared = {re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    assert sorted(declared - set(pins)) == []
    for name in declared:
        assert importlib.metadata.version(name) == pins[name], name
