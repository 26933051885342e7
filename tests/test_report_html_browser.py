"""The HTML report renders in headless Chromium: tables and embedded plots in the DOM, pixels."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from test_report_fixtures import CODE_05B, V3, V3_REVISION, code_05b_meta, write_result

from embharness.report.build import build_report

REPO = Path(__file__).resolve().parents[1]
ENSURE = REPO / "scripts" / "ensure_chromium.sh"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    try:
        subprocess.run(["bash", str(ENSURE)], check=True, capture_output=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"chromium is not installed and scripts/ensure_chromium.sh failed: {exc}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium is not installed and could not be installed")
    return found


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1


def _count(html: str) -> dict[str, int]:
    counter = _Counter()
    counter.feed(html)
    return counter.tags


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def _screenshot(chromium: str, tmp: Path, page: Path, name: str, size: str) -> Image.Image:
    png = tmp / name
    _run(chromium, tmp / "profile", f"--screenshot={png}", f"--window-size={size}", page.as_uri())
    return Image.open(png).convert("RGB")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    results = root / "results"
    for task, score in [("CosQA", 0.39), ("AppsRetrieval", 0.845)]:
        write_result(results, CODE_05B, task, {"test": {"default": score}}, meta=code_05b_meta())
        for dim in (64, 256):
            low = {"test": {"default": score - 64 / dim / 20}}
            write_result(results, CODE_05B, task, low, kwargs={"embed_dim": dim}, embed_dim=dim)
    v3 = {"revision": V3_REVISION, "embed_dim": 1024}
    write_result(results, V3, "STS12", {"test": {"default": 0.82}}, **v3)
    return build_report(results, root / "reports").html


def test_dom_has_all_tables_and_plots(report: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    dom = _run(chromium, tmp_path / "profile", "--dump-dom", report.as_uri()).stdout
    source = _count(report.read_text())
    rendered = _count(dom)
    # settings, comparison, averages, 2 Matryoshka tables, v3 cells + categories
    assert rendered["table"] == source["table"] == 7
    plots = len(list((report.parent / "plots").glob("*.png")))
    assert rendered["img"] == source["img"] == plots
    assert plots == 1 + 2 + 3  # scatter, 2 average plots, 3 tasks
    assert len(re.findall(r'src="data:image/png;base64,', dom)) == plots


def test_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    shot = _screenshot(chromium, tmp_path, report, "report.png", "1280,2000")
    assert shot.size == (1280, 2000)
    colours = shot.getcolors(1 << 24) or []
    assert len(colours) > 50
    white = sum(n for n, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.95 * 1280 * 2000


def test_embedded_plot_renders(report: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    first = re.search(r"<img [^>]+>", report.read_text())
    assert first
    page = tmp_path / "plot.html"
    page.write_text(f"<!DOCTYPE html><html><body style='margin:0'>{first.group(0)}</body></html>")
    shot = _screenshot(chromium, tmp_path, page, "plot.png", "800,800")
    left, top, right, bottom = ImageChops.difference(
        shot, Image.new("RGB", shot.size, "white")
    ).getbbox()
    assert right - left > 400 and bottom - top > 300  # a broken-image icon is 16 px
    saturated = sum(n for n, rgb in shot.getcolors(1 << 24) or [] if max(rgb) - min(rgb) > 60)
    assert saturated > 50  # the coloured markers of the scatter plot
