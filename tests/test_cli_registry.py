"""The CLI's lazy registry: every subcommand loads, and light ones never import torch or mteb."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from embharness.cli import SUBCOMMANDS, main

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_subcommand_loads_under_its_own_name() -> None:
    context = click.Context(main)
    for name in SUBCOMMANDS:
        command = main.get_command(context, name)
        assert isinstance(command, click.Command), name
        assert command.name == name
    assert main.get_command(context, "no-such-command") is None


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line]
    assert listed == list(SUBCOMMANDS)


def _heavy_modules_after(code: str) -> list[str]:
    """Which of torch / mteb / transformers a fresh interpreter has imported after ``code``."""
    probe = (
        f"{code}\nimport sys\n"
        "print(','.join(m for m in ('torch', 'mteb', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    last_line = (done.stdout.splitlines() or [""])[-1]
    return [m for m in last_line.split(",") if m]


def test_help_and_bad_sweep_input_import_neither_torch_nor_mteb(tmp_path: Path) -> None:
    sweep = tmp_path / "bad.yaml"
    sweep.write_text("models: [{name: st:x}]\n")
    run_bad = (
        "from click.testing import CliRunner\nfrom embharness.cli import main\n"
        f"result = CliRunner().invoke(main, ['run', {str(sweep)!r}])\n"
        "assert result.exit_code == 2, result.output\n"
        "assert 'tasks' in result.output, result.output\n"
    )
    show_help = (
        "from click.testing import CliRunner\nfrom embharness.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0\n"
    )
    assert _heavy_modules_after(show_help) == []
    assert _heavy_modules_after(run_bad) == []
