"""Read the NAME line ("cmd \\- description") of installed Debian manual pages.

Pure functions over roff/mdoc source; no mteb imports. Used by ``manpages_offline``.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

MAN_ROOT = Path("/usr/share/man")

# The NAME section header as each manpages-l10n / man-pages translation spells it (upper-cased).
NAME_HEADERS = frozenset(
    {"NAME", "BEZEICHNUNG", "NOM", "NOMBRE", "NOME", "NAZWA", "ИМЯ", "NAAM", "НАЗВА", "NÁZEV"}
)

_SECTION_RE = re.compile(r"^[.'][ \t]*S[Hh](?:[ \t]+(.*))?$")
_FONT_MACROS = frozenset({"B", "I", "R", "SM", "SB"})
_ALT_MACROS = frozenset({"BR", "RB", "BI", "IB", "IR", "RI"})
_NAMED_GLYPHS = {
    "-": "-",
    "em": "—",
    "en": "–",
    "hy": "-",
    "aq": "'",
    "dq": '"',
    "oq": "‘",
    "cq": "’",
    "lq": "“",
    "rq": "”",
    "Fo": "«",
    "Fc": "»",
    "bu": "•",
    "co": "©",
    "rg": "®",
    "mu": "×",
    "EL": "...",
}
_ESCAPE_RE = re.compile(
    r"\\(?:"
    r"\((?P<paren>..)"  # \(xx
    r"|\[(?P<bracket>[^\]]*)\]"  # \[name]
    r"|\*(?:\((?P<str2>..)|\[(?P<strn>[^\]]*)\]|(?P<str1>.))"  # \*x \*(xx \*[name]
    r"|f(?:\(..|\[[^\]]*\]|.)"  # font changes
    r"|[sS][-+]?\d"  # size changes
    r"|(?P<lit>[-e\\ ~0|^&%c.'`])"  # one-character escapes
    r"|[nN](?:\(..|\[[^\]]*\]|.)"  # registers / glyph numbers
    r"|(?P<other>.)"
    r")"
)
_LITERAL_ESCAPES = {
    "-": "-",
    "e": "\\",
    "\\": "\\",
    " ": " ",
    "~": " ",
    "0": " ",
    "|": "",
    "^": "",
    "&": "",
    "%": "",
    "c": "",
    ".": ".",
    "'": "'",
    "`": "`",
}
_DASH_SPLIT_RE = re.compile(r"\s+[-–—]+\s+")
_BREAK_RE = re.compile(r"^[.'][ \t]*(br|sp|PP|P|LP|IP|TP|HP)\b")


@dataclass(frozen=True)
class NameLine:
    """One page's NAME line: ``names`` are the documented commands, ``description`` the rest."""

    key: str  # page file name without ".gz", e.g. "ls.1"
    names: tuple[str, ...]
    description: str


def decode_roff(text: str) -> str:
    """Replace roff escapes with the characters they print and drop formatting escapes."""

    def replace(match: re.Match[str]) -> str:
        lit = match.group("lit")
        if lit is not None:
            return _LITERAL_ESCAPES[lit]
        glyph = match.group("paren") or match.group("bracket")
        if glyph is None:
            glyph = match.group("str2") or match.group("strn") or match.group("str1")
        return _NAMED_GLYPHS.get(glyph, "") if glyph else ""

    return _ESCAPE_RE.sub(replace, text)


def _macro_args(rest: str) -> list[str]:
    """Split a macro's arguments, honouring double quotes."""
    return [a if a else b for a, b in re.findall(r'"([^"]*)"|(\S+)', rest)]


def _line_text(line: str) -> str | None:
    """Text contributed by one source line of a NAME section (None for control lines)."""
    if not line or line[0] not in ".'":
        return line
    parts = line[1:].strip().split(None, 1)
    if not parts:
        return None
    macro, rest = parts[0], (parts[1] if len(parts) > 1 else "")
    if macro in _FONT_MACROS or macro == "Nm":
        return " ".join(_macro_args(rest))
    if macro in _ALT_MACROS:
        return "".join(_macro_args(rest))
    if macro == "Nd":
        return "\\- " + rest
    return None


def name_section_lines(source: str) -> list[str]:
    """Source lines of the NAME section (the first section with a known NAME header)."""
    lines: list[str] = []
    inside = False
    in_macro_def = False
    for raw in source.splitlines():
        line = re.sub(r'\\".*$', "", raw).rstrip()
        if in_macro_def:
            in_macro_def = not re.match(r"^[.'][ \t]*\.\s*$", raw)
            continue
        if re.match(r"^[.'][ \t]*(de|am|ig)\b", line):
            in_macro_def = True
            continue
        match = _SECTION_RE.match(line)
        if match:
            if inside:
                break
            header = (match.group(1) or "").strip().strip('"').strip().upper()
            inside = header in NAME_HEADERS
            continue
        if inside and re.match(r"^[.'][ \t]*SS\b", line):
            break
        if inside:
            lines.append(line)
    return lines


def _entry(texts: list[str]) -> tuple[tuple[str, ...], str] | None:
    """``(names, description)`` of one ``names \\- description`` entry, or None."""
    text = " ".join(decode_roff(" ".join(texts)).split())
    parts = _DASH_SPLIT_RE.split(text, maxsplit=1)
    if len(parts) != 2:
        return None
    names = tuple(n for n in re.split(r"[,\s]+", parts[0]) if n)
    description = parts[1].strip()
    return (names, description) if names and description else None


def _chunks(lines: list[str]) -> list[list[str]]:
    """Text of the NAME section split at break macros (``.br``, ``.sp``, ``.PP``, ...)."""
    chunks: list[list[str]] = [[]]
    for line in lines:
        if _BREAK_RE.match(line):
            chunks.append([])
            continue
        text = _line_text(line)
        if text is not None:
            chunks[-1].append(text)
    return [chunk for chunk in chunks if chunk]


def parse_name_line(key: str, source: str) -> NameLine | None:
    """Parse the NAME section of a page's roff/mdoc ``source``; None when it has none.

    Like man-db's ``lexgrog``, break macros separate entries (``hostname \\- ...`` ``.br``
    ``domainname \\- ...``): the description is the first entry's, the names are all entries'.
    Chunks without a separator (a synopsis line some pages put there) are ignored.
    """
    entries = [e for e in map(_entry, _chunks(name_section_lines(source))) if e is not None]
    if not entries:
        return None
    names = tuple(dict.fromkeys(name for entry_names, _ in entries for name in entry_names))
    return NameLine(key=key, names=names, description=entries[0][1])


def strip_names(description: str, names: tuple[str, ...] | list[str]) -> str:
    """Remove every whole-word, case-insensitive occurrence of ``names`` (and ``name()``).

    A hyphen joined to a removed name goes with it (``Resolver-Routinen`` → ``Routinen``).
    """
    for name in sorted(set(names), key=len, reverse=True):
        if name.casefold() not in description.casefold():  # skip compiling a pattern
            continue
        pattern = rf"-?(?<!\w){re.escape(name)}(?:\(\d*\w*\))?(?!\w)-?"
        description = re.sub(pattern, " ", description, flags=re.IGNORECASE)
    description = re.sub(r"\(\s*\)|\[\s*\]", " ", description)
    description = " ".join(description.split())
    return description.strip(" ,;:")


def read_page(path: Path) -> str | None:
    """Decompressed source of a page, or None for ``.so`` redirects and unreadable files."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
            source = handle.read()
    except (OSError, EOFError):
        return None
    if source.lstrip().startswith(".so "):
        return None
    return source


def package_pages(package: str) -> list[Path]:
    """The real (non-symlink) gzip man pages that dpkg lists for ``package``, sorted."""
    listing = subprocess.run(
        ["dpkg-query", "-L", package], capture_output=True, text=True, check=False
    ).stdout
    pages = [
        Path(line)
        for line in listing.splitlines()
        if line.startswith(f"{MAN_ROOT}/") and line.endswith(".gz")
    ]
    return sorted(p for p in pages if p.is_file() and not p.is_symlink())


def page_key(path: Path) -> str:
    """Pairing key of a page: its file name without ``.gz`` (``ls.1``, ``open.2``)."""
    return path.name.removesuffix(".gz")


def read_name_lines(pages: list[Path]) -> dict[str, NameLine]:
    """Parse pages into ``{key: NameLine}``; the first page (in sorted order) wins per key."""
    lines: dict[str, NameLine] = {}
    for path in sorted(pages):
        key = page_key(path)
        if key in lines:
            continue
        source = read_page(path)
        parsed = parse_name_line(key, source) if source else None
        if parsed is not None:
            lines[key] = parsed
    return lines
