"""A non-editable install finds everything it needs (the published figures are package data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import embharness
from embharness.report.published import load_published, published_dir
published = load_published()
print(embharness.__file__)
print(published_dir())
print(len(published.averages), len(published.figures))
"""


def test_non_editable_install_loads_published_figures(tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("EMBHARNESS_PUBLISHED", None)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    module, folder, counts = probe.stdout.strip().splitlines()[-3:]
    assert Path(module).is_relative_to(site) and Path(folder).is_relative_to(site)
    averages, figures = map(int, counts.split())
    assert averages >= 2 and figures > 7000  # Overall AVG and MTEB Code AVG; every figure row
