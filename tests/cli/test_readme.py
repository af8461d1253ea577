"""The README documents every command, and its two set-up commands come first."""

from __future__ import annotations

from pathlib import Path

from inspectcli.cli.app import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_setup_commands_first():
    head = README.split("```")[1]
    assert "make demo" in head and "make test" in head


def test_every_command_documented_with_example():
    names = [c.name for c in app.registered_commands]
    assert {"info", "pdp", "importance"} <= set(names)
    for name in names:
        assert f"### `inspect {name}`" in README, name
        assert f"inspect {name} " in README, name
        command = next(c for c in app.registered_commands if c.name == name)
        assert "Example:" in (command.callback.__doc__ or ""), name


def test_images_exist():
    root = Path(__file__).resolve().parents[2]
    for line in README.splitlines():
        if line.startswith("![") and "](" in line:
            assert (root / line.split("](")[1].rstrip(")")).exists(), line
