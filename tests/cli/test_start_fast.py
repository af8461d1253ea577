"""`--help`, `--version`, `schema` and completion import nothing heavy: scikit-learn, pandas,
matplotlib and dask load only in the command that needs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("sklearn", "pandas", "matplotlib", "dask", "distributed", "scipy", "pyarrow", "numba")

PROBE = """
import sys
from inspectcli.cli.app import app
from typer.main import get_command
cmd = get_command(app)
for argv in ARGS:
    try:
        cmd.main(argv, prog_name="inspect", standalone_mode=False)
    except SystemExit:
        pass
    except Exception:
        pass
print("\\n" + repr(sorted(m for m in HEAVY if m in sys.modules)))
"""


def _heavy_after(args: list[list[str]]) -> list[str]:
    code = f"HEAVY = {HEAVY!r}\nARGS = {args!r}\n" + PROBE
    env = {**os.environ, "COLUMNS": "100"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout.strip().splitlines()[-1])


def test_importing_the_app_loads_no_heavy_module():
    assert _heavy_after([]) == []


def test_help_version_schema_and_usage_errors_load_no_heavy_module():
    commands = ["pdp", "importance", "ale", "coefficients", "info", "diff", "schema"]
    args = [["--help"], ["--version"], ["schema", "pdp"], ["pdp", "--no-such-flag"]]
    args += [[c, "--help"] for c in commands]
    assert _heavy_after(args) == []


def test_completion_loads_no_heavy_module():
    env = {
        **os.environ,
        "_INSPECT_COMPLETE": "complete_bash",
        "COMP_WORDS": "inspect pdp --ki",
        "COMP_CWORD": "2",
    }
    code = (
        "import sys\nfrom inspectcli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_version_names_scikit_learn_without_importing_it():
    from importlib.metadata import version

    proc = subprocess.run(
        [sys.executable, "-c", "from inspectcli.cli.app import main; main()", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert f"scikit-learn {version('scikit-learn')}" in proc.stdout


def test_schema_prints_json():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from inspectcli.cli.app import main; sys.argv[1:] = ['schema', 'pdp']; main()",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"]
