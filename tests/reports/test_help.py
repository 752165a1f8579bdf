"""``ledger --help`` and every command's help show an example (issue 14)."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from ledger.cli import app

runner = CliRunner()


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_help_shows_an_example():
    root = typer.main.get_command(app)
    paths = list(_commands(root))
    assert ("query", "commission") in paths and ("replay", "drift") in paths
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "Example: ledger demo" in top.stdout
    missing = [" ".join(p) for p in paths
               if "Example" not in runner.invoke(app, [*p, "--help"], env={"COLUMNS": "200"}).stdout]
    assert missing == []
