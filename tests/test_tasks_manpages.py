"""Manpages tasks: NAME lines of Debian's translated man pages, paired across languages.

Needs the packages that ``scripts/ensure_manpages.sh`` installs (``make manpages``); when they are
missing the module tries that script once and skips, with the reason, only if it fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from embharness.errors import HarnessError
from embharness.tasks import manpages_offline as mo
from embharness.tasks.manpages_parse import (
    decode_roff,
    package_pages,
    page_key,
    parse_name_line,
    read_page,
    strip_names,
)

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure_manpages.sh"


def _ensure_packages() -> None:
    if not mo.missing_packages():
        return
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, check=False)
    still = mo.missing_packages()
    if still:
        pytest.skip(
            f"man-page packages {', '.join(still)} could not be installed "
            f"(scripts/ensure_manpages.sh exit {run.returncode}: {run.stderr.strip()[-300:]})"
        )


@pytest.fixture(scope="module")
def data() -> mo.ManpagesData:
    _ensure_packages()
    return mo.build_data()


def test_pair_counts_per_language(data) -> None:
    assert set(data.pairs) == {"deu", "fra", "spa", "por", "pol", "rus"}
    assert len(data.english) > 1000
    for lang, pairs in data.pairs.items():
        assert len(pairs) >= 150, lang
        keys = [p.key for p in pairs]
        assert keys == sorted(keys)
        assert len({p.foreign for p in pairs}) == len(pairs)
        assert all(p.foreign and p.english for p in pairs)
        assert all(data.english[p.key] == p.english for p in pairs)
    assert len(set(data.english.values())) == len(data.english)


def test_build_is_deterministic(data) -> None:
    assert mo.build_data() == data


def _english_names() -> dict[str, list[str]]:
    """Every name on each English page's NAME line, read with man-db's ``lexgrog``."""
    pages = [p for pkg in mo.ENGLISH_PACKAGES for p in package_pages(pkg)]
    out = subprocess.run(["lexgrog", *map(str, pages)], capture_output=True, text=True).stdout
    names: dict[str, list[str]] = {}
    for line in out.splitlines():
        match = re.match(r'^(.*?): "(.*?) - ', line)
        if match:
            names.setdefault(page_key(Path(match.group(1))), []).append(match.group(2))
    return names


@pytest.mark.skipif(shutil.which("lexgrog") is None, reason="man-db's lexgrog is not installed")
def test_command_names_never_appear_as_whole_words(data) -> None:
    names = _english_names()
    checked = 0
    for pairs in data.pairs.values():
        for pair in pairs:
            for name in [pair.key.rsplit(".", 1)[0], *names.get(pair.key, [])]:
                pattern = rf"(?<!\w){re.escape(name)}(?!\w)"
                assert not re.search(pattern, pair.foreign, re.I), (name, pair)
                assert not re.search(pattern, pair.english, re.I), (name, pair)
                checked += 1
    assert checked > 3000


@pytest.mark.skipif(shutil.which("lexgrog") is None, reason="man-db's lexgrog is not installed")
def test_name_lines_agree_with_lexgrog(data) -> None:
    """man-db's own NAME-line parser gives the same first description for nearly every page."""
    pages = [p for pkg in mo.MANPAGE_PACKAGES for p in package_pages(pkg)]
    out = subprocess.run(["lexgrog", *map(str, pages)], capture_output=True, text=True).stdout
    first: dict[str, str] = {}
    for line in out.splitlines():
        match = re.match(r'^(.*?): ".*? - (.*)"$', line)
        if match:
            first.setdefault(match.group(1), match.group(2))
    agree = compared = 0
    for path in pages:
        source = read_page(path)
        parsed = parse_name_line(page_key(path), source) if source else None
        if parsed is None or str(path) not in first:
            continue
        compared += 1
        agree += parsed.description == first[str(path)]
    assert compared > 5000
    assert agree / compared > 0.995
    ls_de = parse_name_line("ls.1", read_page(Path("/usr/share/man/de/man1/ls.1.gz")))
    assert ls_de is not None
    assert (ls_de.names, ls_de.description) == (("ls",), "Verzeichnisinhalte auflisten")


def test_parser_on_roff_and_mdoc_snippets() -> None:
    roff = (
        '.\\" comment\n.de XX\n.SH NOT THIS\n..\n.TH LS 1\n.SH BEZEICHNUNG\n'
        "ls, dir \\- Verzeichnis\\-Inhalte \\fBanzeigen\\fP\n.br\nvdir \\- auch\n.SH ÜBERSICHT\nx\n"
    )
    parsed = parse_name_line("ls.1", roff)
    assert parsed is not None
    assert parsed.names == ("ls", "dir", "vdir")
    assert parsed.description == "Verzeichnis-Inhalte anzeigen"
    mdoc = ".Dd x\n.Sh NAME\n.Nm cat\n.Nd concatenate and print files\n.Sh SYNOPSIS\n"
    parsed = parse_name_line("cat.1", mdoc)
    assert parsed is not None
    assert (parsed.names, parsed.description) == (("cat",), "concatenate and print files")
    assert decode_roff(r"a\(emb \[lq]c\[rq] \e \&.") == "a—b “c” \\ ."


def test_install_script_lists_the_task_packages() -> None:
    text = SCRIPT.read_text()
    array = re.search(r"DEFAULT_PACKAGES=\((.*?)\)", text, flags=re.S)
    assert array is not None
    assert tuple(array.group(1).split()) == mo.MANPAGE_PACKAGES


def test_strip_names_removes_whole_words_only() -> None:
    assert strip_names("Resolver-Routinen", ["resolver"]) == "Routinen"
    assert (
        strip_names("the open() call opens; reopen stays", ["open"])
        == "the call opens; reopen stays"
    )
    assert strip_names("time a simple command", ["time"]) == "a simple command"


def test_retrieval_task_layout(data) -> None:
    task = mo.ManpagesCrossLingualRetrieval()
    task.load_data()
    assert sorted(task.dataset) == sorted(mo.EVAL_LANGS)
    for subset, splits in task.dataset.items():
        split = splits["test"]
        lang = subset.split("-")[0]
        assert len(split["queries"]) == len(data.pairs[lang])
        assert len(split["corpus"]) == len(data.english)
        corpus_ids = set(split["corpus"]["id"])
        for query_id, docs in split["relevant_docs"].items():
            assert len(docs) == 1
            (doc_id,) = docs
            assert doc_id in corpus_ids
            assert doc_id.split(":", 1)[1] == query_id.split(":", 1)[1]


def test_bitext_task_layout(data) -> None:
    task = mo.ManpagesBitextMining()
    task.load_data()
    rows = task.dataset["fra-eng"]["test"]
    assert rows.column_names == ["sentence1", "sentence2"]
    assert rows["sentence1"] == [p.foreign for p in data.pairs["fra"]]
    assert rows["sentence2"] == [p.english for p in data.pairs["fra"]]
    assert task.metadata.eval_langs["fra-eng"] == ["fra-Latn", "eng-Latn"]


def test_metadata_records_package_versions(data) -> None:
    for package in ("manpages", "manpages-de", "manpages-ru-dev"):
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
        ).stdout
        entry = f"{package}={version}"
        assert entry in mo.ManpagesCrossLingualRetrieval.metadata.dataset["revision"].split(";")
        assert entry in mo.ManpagesBitextMining.metadata.description


def test_missing_packages_raise_a_harness_error(monkeypatch) -> None:
    real = mo.package_versions

    def without_german(packages=mo.MANPAGE_PACKAGES):
        versions = real(packages)
        versions["manpages-de"] = None
        return versions

    monkeypatch.setattr(mo, "package_versions", without_german)
    with pytest.raises(HarnessError) as info:
        mo.ManpagesBitextMining().load_data()
    assert "manpages-de" in info.value.problem
    assert "manpages-fr" not in info.value.problem
    assert "make manpages" in info.value.fix
    assert "apt-get install" in info.value.fix
