"""What each folder may import, as docs/architecture.md's table says: the table is read, every import checked.

Imports inside functions count as much as those at the top of a module: a lazy import still couples.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "ibhfn": ROOT / "ibhfn",
    "ibhfn.export": ROOT / "export",
    "ibhfn.runtime": ROOT / "runtime",
    "ibhfn.calibration": ROOT / "calibration",
}  # installed names, as pyproject.toml's package-dir maps them
CLI_MODULES = ("cli", "__main__")  # and every <name>_cli


def is_cli(module: str) -> bool:
    """A command-line module: cli, <name>_cli or __main__."""
    last = module.rsplit(".", 1)[-1]
    return last in CLI_MODULES or last.endswith("_cli")


CLI_LAYER = ("ibhfn.cli_version", "ibhfn.cli_options", "ibhfn.console_scripts")


def section() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return text[text.index("## What each folder may import") :].split("\n## ")[0]


def contracts() -> set[str]:
    paragraph = re.search(r"The contracts \((.*?)\) import\s+only one another", section(), re.S)
    assert paragraph, "docs/architecture.md: the paragraph naming the contracts is gone"
    return set(re.findall(r"`([\w.]+)`", paragraph[1]))


def rules() -> dict[str, set[str]]:
    """module (or package) -> the ibhfn modules it may import besides the contracts and its own package."""
    table = {}
    for line in section().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = set(re.findall(r"`([\w.]+)`", cells[1]))
    assert table, "docs/architecture.md: the table of what each folder may import is gone"
    return table


def modules() -> dict[str, Path]:
    """Every product module by its installed name."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            if package == "ibhfn" and any(
                path.is_relative_to(other) for name, other in FOLDERS.items() if name != "ibhfn"
            ):
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path, names: set[str]) -> set[str]:
    """The ibhfn modules a file imports (`from ibhfn.x import y` is ibhfn.x.y where y is a module)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                targets.add(full if full in names else node.module)
    return {t for t in targets if t == "ibhfn" or t.startswith("ibhfn.")}


def within(name: str, prefix: str) -> bool:
    """`name` is `prefix` or inside it; `ibhfn` alone is the package's own __init__, not all of ibhfn."""
    return name == prefix or (prefix != "ibhfn" and name.startswith(prefix + "."))


def allowed(module: str, table: dict[str, set[str]], contract: set[str]) -> tuple[set[str], bool]:
    """What `module` may import, and whether a row (or the contracts) covers it at all."""
    command_line = is_cli(module)
    own = ".".join(module.split(".")[:2])
    library = module.rsplit(".", 1)[0] if command_line else module
    covering = [key for key in table if within(library, key)]
    extra = set().union(*(table[key] for key in covering)) if covering else set()
    if command_line:
        extra |= set(CLI_LAYER)
    return contract | {own} | extra, bool(covering) or module in contract or command_line


def test_every_import_is_one_the_table_allows():
    table, contract, found = rules(), contracts(), modules()
    names = set(found)
    unknown = sorted(set(contract) - names)
    assert unknown == [], f"docs/architecture.md names contracts that do not exist: {unknown}"
    uncovered, forbidden = [], []
    for module, path in sorted(found.items()):
        permitted, covered = allowed(module, table, contract)
        if not covered:
            uncovered.append(module)
        for target in sorted(imported(path, names)):
            if not any(within(target, entry) for entry in permitted):
                forbidden.append(f"{path.relative_to(ROOT)} imports {target}")
    assert uncovered == [], "add these to the table in docs/architecture.md"
    assert forbidden == [], "docs/architecture.md does not allow these imports"


def test_contracts_import_only_contracts():
    contract, found = contracts(), modules()
    for module in sorted(contract):
        for target in imported(found[module], set(found)):
            assert any(within(target, c) for c in contract), f"{module} (a contract) imports {target}"


def test_no_library_module_imports_a_command_line_module():
    found = modules()
    for module, path in found.items():
        if is_cli(module) or module in CLI_LAYER or module == "ibhfn.console_scripts":
            continue
        for target in imported(path, set(found)):
            assert not is_cli(target) and target not in CLI_LAYER, (
                f"{path.relative_to(ROOT)} imports the command-line module {target}"
            )


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The runtime importing the model would be caught: the checks above can fail."""
    table, contract = rules(), contracts()
    permitted, covered = allowed("ibhfn.runtime.pipeline", table, contract)
    assert covered and not any(within("ibhfn.model", entry) for entry in permitted)
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from ibhfn.model import build_model\n")
    assert imported(sample, {"ibhfn.model"}) == {"ibhfn.model"}
