"""Multilingual offline tasks from Debian's translated manual pages (bookworm packages).

English NAME lines come from ``manpages`` + ``manpages-dev`` (the Linux man-pages project), the
translations from ``manpages-<ll>`` + ``manpages-<ll>-dev`` (manpages-l10n). Only files dpkg lists
for those packages are read, so the data is a function of the package versions recorded in the
metadata. Pages pair by file name (``ls.1``: command and section). ``.so`` alias pages and symlinks
are skipped. Every name a page documents (from any language's NAME line, plus the file's stem) is
removed from every description as a whole word, so the match can't rest on the command name.
English descriptions are deduplicated (first page by sorted key wins); a translated description is
dropped when it is empty, identical to the English one (untranslated), or repeats an earlier one.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining

from embharness.errors import HarnessError
from embharness.tasks import manpages_parse
from embharness.tasks.built_cache import cached_rows
from embharness.tasks.manpages_parse import (
    NameLine,
    package_pages,
    read_name_lines,
    strip_names,
)

ENGLISH_PACKAGES = ("manpages", "manpages-dev")
# ISO 639-3 code → (Debian package stem, mteb language-script code)
LANGUAGES: dict[str, tuple[str, str]] = {
    "deu": ("manpages-de", "deu-Latn"),
    "fra": ("manpages-fr", "fra-Latn"),
    "spa": ("manpages-es", "spa-Latn"),
    "por": ("manpages-pt-br", "por-Latn"),
    "pol": ("manpages-pl", "pol-Latn"),
    "rus": ("manpages-ru", "rus-Cyrl"),
}
MANPAGE_PACKAGES: tuple[str, ...] = ENGLISH_PACKAGES + tuple(
    pkg for stem, _ in LANGUAGES.values() for pkg in (stem, f"{stem}-dev")
)
EVAL_LANGS = {f"{lang}-eng": [script, "eng-Latn"] for lang, (_, script) in LANGUAGES.items()}
INSTALL_FIX = "run `make manpages` (or: sudo apt-get install " + " ".join(MANPAGE_PACKAGES) + ")"


@dataclass(frozen=True)
class ManpagePair:
    """One translated page: ``key`` like ``ls.1``, its foreign and English descriptions."""

    key: str
    foreign: str
    english: str


@dataclass(frozen=True)
class ManpagesData:
    """English corpus ``{key: description}`` and the pairs per language code (``deu``, ...)."""

    english: dict[str, str]
    pairs: dict[str, list[ManpagePair]]


def package_versions(packages: tuple[str, ...] = MANPAGE_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when not installed), from one dpkg-query call."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status} ${Version}\\n", *packages],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:
        out = ""
    found = {}
    for line in out.splitlines():
        name, status, version = [*line.split(" ", 2), "", ""][:3]
        if status == "installed" and version:
            found[name] = version
    return {pkg: found.get(pkg) for pkg in packages}


def missing_packages(
    packages: tuple[str, ...] = MANPAGE_PACKAGES, pages: dict[str, list[Path]] | None = None
) -> list[str]:
    """Packages not installed, or installed without their pages on disk (dpkg path-exclude);
    ``pages``: each package's pages where the caller listed them already."""
    versions = package_versions(packages)
    listed = pages if pages is not None else {pkg: package_pages(pkg) for pkg in packages}
    return [pkg for pkg in packages if versions[pkg] is None or not listed[pkg]]


def require_packages(pages: dict[str, list[Path]] | None = None) -> None:
    """Raise a one-line HarnessError naming the missing man-page packages, if any."""
    missing = missing_packages(pages=pages)
    if missing:
        raise HarnessError(
            f"Debian man-page packages missing or without pages on disk: {', '.join(missing)}",
            INSTALL_FIX,
        )


def _lines(packages: tuple[str, ...]) -> dict[str, NameLine]:
    return read_name_lines([page for pkg in packages for page in package_pages(pkg)])


def _names_by_key(tables: list[dict[str, NameLine]]) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for table in tables:
        for key, line in table.items():
            names.setdefault(key, {key.rsplit(".", 1)[0]}).update(line.names)
    return names


def _english_corpus(english: dict[str, NameLine], names: dict[str, set[str]]) -> dict[str, str]:
    corpus: dict[str, str] = {}
    seen: set[str] = set()
    for key in sorted(english):
        text = strip_names(english[key].description, sorted(names[key]))
        if text and text not in seen:
            seen.add(text)
            corpus[key] = text
    return corpus


def _pairs(
    foreign: dict[str, NameLine], corpus: dict[str, str], names: dict[str, set[str]]
) -> list[ManpagePair]:
    pairs: list[ManpagePair] = []
    seen: set[str] = set()
    for key in sorted(foreign.keys() & corpus.keys()):
        text = strip_names(foreign[key].description, sorted(names[key]))
        if not text or text.casefold() == corpus[key].casefold() or text in seen:
            continue
        seen.add(text)
        pairs.append(ManpagePair(key=key, foreign=text, english=corpus[key]))
    return pairs


def build_data() -> ManpagesData:
    """Parse every configured package and pair the pages (see the module docstring)."""
    require_packages()
    english = _lines(ENGLISH_PACKAGES)
    foreign = {lang: _lines((stem, f"{stem}-dev")) for lang, (stem, _) in LANGUAGES.items()}
    names = _names_by_key([english, *foreign.values()])
    corpus = _english_corpus(english, names)
    pairs = {lang: _pairs(table, corpus, names) for lang, table in foreign.items()}
    empty = [lang for lang, found in pairs.items() if not found]
    if empty:
        raise HarnessError(
            f"no translated man pages could be paired for: {', '.join(empty)}",
            f"reinstall the packages so their pages are on disk: {INSTALL_FIX}",
        )
    return ManpagesData(english=corpus, pairs=pairs)


def load_data() -> ManpagesData:
    """:func:`build_data`, read from the built-task cache when no page file changed (the
    parse takes about 1 s a process, paid by both manpage tasks in every worker)."""
    pages = {pkg: package_pages(pkg) for pkg in MANPAGE_PACKAGES}  # dpkg-query, listed once
    require_packages(pages)
    builders = [Path(__file__), Path(manpages_parse.__file__)]
    every_page = [page for found in pages.values() for page in found]
    rows = cached_rows("manpages", builders, every_page, lambda: _as_rows(build_data()))
    english, pairs = rows
    return ManpagesData(
        english=dict(english),
        pairs={lang: [ManpagePair(*pair) for pair in found] for lang, found in pairs.items()},
    )


def _as_rows(data: ManpagesData) -> list[Any]:
    pairs = {
        lang: [[p.key, p.foreign, p.english] for p in found] for lang, found in data.pairs.items()
    }
    return [list(data.english.items()), pairs]


def _subset_lang(hf_subset: str) -> str:
    return hf_subset.split("-", 1)[0]


def retrieval_splits(data: ManpagesData, hf_subsets: list[str]) -> dict[str, Any]:
    """``{subset: {"test": RetrievalSplitData}}``: foreign queries against every English page."""
    corpus = Dataset.from_list(
        [{"id": f"eng:{key}", "title": "", "text": text} for key, text in data.english.items()]
    )
    dataset: dict[str, Any] = {}
    for subset in hf_subsets:
        lang = _subset_lang(subset)
        pairs = data.pairs[lang]
        queries = Dataset.from_list([{"id": f"{lang}:{p.key}", "text": p.foreign} for p in pairs])
        relevant = {f"{lang}:{p.key}": {f"eng:{p.key}": 1} for p in pairs}
        dataset[subset] = {
            "test": RetrievalSplitData(
                queries=queries, corpus=corpus, relevant_docs=relevant, top_ranked=None
            )
        }
    return dataset


def bitext_splits(data: ManpagesData, hf_subsets: list[str]) -> dict[str, DatasetDict]:
    """``{subset: DatasetDict(test=sentence1 foreign, sentence2 English)}``."""
    dataset = {}
    for subset in hf_subsets:
        pairs = data.pairs[_subset_lang(subset)]
        rows = {"sentence1": [p.foreign for p in pairs], "sentence2": [p.english for p in pairs]}
        dataset[subset] = DatasetDict({"test": Dataset.from_dict(rows)})
    return dataset


def _revision() -> str:
    versions = package_versions()
    return ";".join(f"{pkg}={versions[pkg] or 'missing'}" for pkg in MANPAGE_PACKAGES)


_REVISION = _revision()
_SOURCE = (
    "Built offline from Debian bookworm manual pages: English from manpages + manpages-dev, "
    "translations from manpages-<ll> + manpages-<ll>-dev (manpages-l10n) for de, fr, es, pt-br, "
    f"pl, ru; package versions {_REVISION}. Each page's NAME line ('cmd \\- description') is "
    "parsed from the gzip roff source; pages pair by file name (command and section); every "
    "documented command name is removed from the descriptions; duplicates and untranslated "
    "descriptions are dropped (first by sorted page key kept)."
)
_COMMON: dict[str, Any] = {
    "reference": "https://manpages-l10n-team.pages.debian.net/manpages-l10n/",
    "dataset": {"path": "debian:manpages-l10n", "revision": _REVISION},
    "category": "t2t",
    "modalities": ["text"],
    "eval_splits": ["test"],
    "eval_langs": EVAL_LANGS,
    "date": ("2022-01-01", "2023-06-10"),
    "domains": ["Written", "Non-fiction"],
    "license": "multiple",
    "annotations_creators": "derived",
    "dialect": [],
    "sample_creation": "human-translated",
    "bibtex_citation": "",
}


class ManpagesCrossLingualRetrieval(AbsTaskRetrieval):
    """Foreign man-page description → the English page's description, among all English pages."""

    metadata = TaskMetadata(
        name="ManpagesCrossLingualRetrieval",
        description=(
            "Cross-lingual retrieval: the query is a translated NAME description, the corpus "
            "every English NAME description (one relevant). " + _SOURCE
        ),
        type="Retrieval",
        main_score="ndcg_at_10",
        **_COMMON,
    )

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Parse the installed packages (idempotent); HarnessError when packages are missing."""
        if self.data_loaded:
            return
        self.dataset = retrieval_splits(load_data(), list(self.hf_subsets))
        self.data_loaded = True


class ManpagesBitextMining(AbsTaskBitextMining):
    """Match each translated man-page description to its English original."""

    metadata = TaskMetadata(
        name="ManpagesBitextMining",
        description=(
            "Bitext mining between translated and English NAME descriptions of the same page "
            "(sentence1 foreign, sentence2 English). " + _SOURCE
        ),
        type="BitextMining",
        main_score="f1",
        **_COMMON,
    )

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Parse the installed packages (idempotent); HarnessError when packages are missing."""
        if self.data_loaded:
            return
        self.dataset = bitext_splits(load_data(), list(self.hf_subsets))
        self.data_loaded = True
