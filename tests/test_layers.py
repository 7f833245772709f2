"""The layering docs/architecture.md describes, checked so that it stays true."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import latte_cli

PACKAGE = Path(latte_cli.__file__).parent
# What the CLI layer may take from the database libraries: a type and the error to translate.
CLI_DATABASE_IMPORTS = {("sqlmodel", "Session"), ("sqlalchemy.exc", "DBAPIError")}


def imports_of(path: Path) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names)
    return found


def test_the_cli_layer_runs_no_queries_of_its_own() -> None:
    offending = [
        (path.name, module, name)
        for path in sorted((PACKAGE / "cli").glob("*.py"))
        for module, name in imports_of(path)
        if module.split(".")[0] in ("sqlmodel", "sqlalchemy")
        and (module, name) not in CLI_DATABASE_IMPORTS
    ]
    assert offending == []


def test_the_core_imports_no_cli_library() -> None:
    core = [p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts[:1]]
    assert len(core) > 20
    offending = [
        (str(path.relative_to(PACKAGE)), module)
        for path in core
        for module, _ in imports_of(path)
        if module.split(".")[0] in ("typer", "rich", "questionary", "prompt_toolkit")
    ]
    assert offending == []


def test_help_loads_no_heavy_library() -> None:
    probe = (
        "import sys\n"
        "from latte_cli.cli.main import main\n"
        "sys.argv = ['latte', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('sqlmodel', 'sqlalchemy', 'alembic', 'questionary', 'matplotlib')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_report_for_a_file_loads_no_rich(tmp_path: Path) -> None:
    """A JSON, CSV or Markdown report imports no rich (docs/architecture.md: rich only in
    the commands that print with it); the table report does, as the control."""
    database = f"sqlite:///{tmp_path / 'latte.db'}"
    subprocess.run(
        [sys.executable, "-m", "latte_cli", "--db", database, "db", "upgrade"],
        capture_output=True, check=True,
    )  # fmt: skip
    probe = (
        "import sys\n"
        "from latte_cli.cli.main import main\n"
        "sys.argv = ['latte', '--db', sys.argv[1], 'report', 'weekly', '--format', sys.argv[2]]\n"
        "code = 0\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code or 0\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'rich'}))\n"
    )
    loaded = {}
    for form in ("json", "csv", "markdown", "table"):
        result = subprocess.run(
            [sys.executable, "-c", probe, database, form],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        loaded[form] = result.stdout.strip().splitlines()[-1]
    assert loaded == {"json": "0 []", "csv": "0 []", "markdown": "0 []", "table": "0 ['rich']"}
