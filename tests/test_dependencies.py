"""The dependency split: requirements.txt is what a deployment runs, requirements-dev.txt what tests and tools add.

A deployment installs only requirements.txt (``./scripts/start``), so a
runtime module that imports a test tool would start in CI and fail in
production; and a pin that drifts from what is installed means CI tested
something a fresh install will not get.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
#: the code a deployment runs: the project, the app and manage.py (bench/ is a development tool)
RUNTIME_CODE = [ROOT / "linkup", ROOT / "messaging", ROOT / "manage.py"]

pytestmark = pytest.mark.stack_independent


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """``name == version`` lines of a requirements file (``-r`` includes are followed)."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found.update(pins(path.parent / line[3:].strip()))
        elif line:
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"{path.name}: {line!r} is not pinned"
            found[canonical(requirement.name)] = specifier.version
    return found


def direct_runtime() -> list[Requirement]:
    """The first block of requirements.txt: what the project uses directly."""
    text = (ROOT / "requirements.txt").read_text().split("# --- pulled in by the above")[0]
    return [Requirement(line.split("#", 1)[0].strip()) for line in text.splitlines() if line.split("#", 1)[0].strip()]


def closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution ``requirements`` pull in, as installed (extras and markers applied)."""
    seen: set[str] = set()
    todo = [(requirement.name, set(requirement.extras)) for requirement in requirements]
    while todo:
        name, extras = todo.pop()
        if canonical(name) in seen:
            continue
        seen.add(canonical(name))
        for text in distribution(name).requires or []:
            needed = Requirement(text)
            if needed.marker and not any(needed.marker.evaluate({"extra": extra}) for extra in (extras or {""})):
                continue
            todo.append((needed.name, set(needed.extras)))
    return seen


def test_the_installed_packages_are_consistent_with_each_others_requirements() -> None:
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-dev.txt"])
def test_every_pin_is_the_installed_version(requirements: str) -> None:
    wrong = {}
    for name, pinned in pins(ROOT / requirements).items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert not wrong, f"pinned vs installed: {wrong}"


def test_requirements_txt_pins_exactly_what_the_runtime_pulls_in() -> None:
    needed = closure(direct_runtime())
    pinned = set(pins(ROOT / "requirements.txt"))
    assert needed - pinned == set(), "pulled in by the runtime but not pinned in requirements.txt"
    assert pinned - needed == set(), (
        "pinned in requirements.txt but no runtime package needs it (requirements-dev.txt?)"
    )


def test_no_runtime_module_imports_a_package_only_the_tests_install() -> None:
    runtime = closure(direct_runtime())
    owners = packages_distributions()
    dev_only = set(pins(ROOT / "requirements-dev.txt")) - set(pins(ROOT / "requirements.txt"))
    offenders = []
    files = [path for root in RUNTIME_CODE for path in ([root] if root.is_file() else root.rglob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                for owner in map(canonical, owners.get(top, [])):
                    if owner in dev_only or owner not in runtime:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module} ({owner})")
    assert not offenders, "\n".join(offenders)
