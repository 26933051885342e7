"""What ``embharness run`` prints: a line per cell, and on a terminal our bar labelled with it.

mteb and the libraries under it print their own progress bars, warnings and log lines for every
cell. Unless ``--verbose`` is given these are kept quiet, each by the narrowest switch there is:

- ``datasets.disable_progress_bars()`` for the ``Dataset.map`` bars mteb draws per cell
  ("Standardizing text corpus format", mteb/_create_dataloaders.py:298, "Flattening the indices").
- mteb's own tqdm bars, which have no switch the runner reaches, are disabled in the mteb modules
  that draw them (``MTEB_BAR_MODULES``); every other use of tqdm, ours included, is untouched.
- ``warnings.filterwarnings`` for the warnings in ``KNOWN_HARMLESS_WARNINGS``, each scoped by
  message, category and the mteb module it is attributed to.
- a filter on one transformers logger for its advice to tokenize with ``__call__`` rather than
  ``pad``: the engine tokenizes once to sort by length and pads per batch on purpose.
- mteb's loggers stay at WARNING; ``--verbose`` prints their INFO lines too.

Download and checkpoint-loading bars (huggingface_hub, transformers) are shown on a terminal and
hidden on a log. ``--quiet`` hides every bar, ours included.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any, Literal

MTEB_BAR_MODULES = (
    # "Matching sentences" (line 79) and an unlabelled bar over the subsets (line 56): always on.
    "mteb._evaluators.text.bitext_mining_evaluator",
    # The loop over summary pairs (line 175): always on.
    "mteb._evaluators.text.summarization_evaluator",
)
# "Searching corpus chunks" and "Reranking queries" (mteb/models/search_wrappers.py) follow
# ``encode_kwargs["show_progress_bar"]``, which the runner sets to False.
# (message regex, category, module regex): warnings that say nothing about the result.
KNOWN_HARMLESS_WARNINGS = (
    # torch, when mteb/_evaluators/text/bitext_mining_evaluator.py:144 re-wraps a tensor.
    (
        r"To copy construct from a tensor",
        UserWarning,
        r"mteb\._evaluators\.text\.bitext_mining_evaluator\Z",
    ),
)
PAD_ADVICE_LOGGER = "transformers.tokenization_utils_base"
PAD_ADVICE = "You're using a "
_ORIGINAL_TQDM: dict[str, Callable[..., Any] | None] = {}
_CHANGED_BY_US: set[str] = set()


class _PadAdviceFilter(logging.Filter):
    """Drops transformers' advice to tokenize with ``__call__`` rather than ``pad``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(PAD_ADVICE)


class _StderrHandler(logging.StreamHandler):
    """Writes each record to whatever ``sys.stderr`` is at that moment."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_PAD_ADVICE_FILTER = _PadAdviceFilter()
_VERBOSE_HANDLER = _StderrHandler()


def configure_console(verbose: bool, quiet: bool, is_tty: bool) -> bool:
    """Set what a run prints; returns whether our own per-cell progress bar should show.

    ``verbose`` lets mteb's progress bars, warnings and INFO log lines through; ``quiet`` means
    no progress bar at all, ours or anyone's; ``is_tty`` is whether stderr is a terminal (bars
    are drawn only there unless ``verbose``; on a log the runner's line per cell is the progress).
    Safe to call again with other settings: each call undoes what an earlier one changed.
    """
    mute_mteb = quiet or not verbose
    _mute_mteb_bars(mute_mteb)
    _mute_library_bars(mute_mteb, quiet or not (is_tty or verbose))
    _filter_known_warnings(not verbose)
    _set_library_logging(verbose)
    return is_tty and not quiet


def _mute_mteb_bars(mute: bool) -> None:
    for name in MTEB_BAR_MODULES:
        _mute_module_tqdm(name, mute)


def _mute_module_tqdm(module_name: str, mute: bool) -> None:
    """Swap the ``tqdm`` a module imported for one that is always disabled, or swap it back.

    A module mteb moved or renamed is skipped: its bar comes back, nothing breaks.
    """
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return
    found: Callable[..., Any] | None = getattr(module, "tqdm", None)
    original = _ORIGINAL_TQDM.setdefault(module_name, found)
    if original is not None:
        vars(module)["tqdm"] = _disabled(original) if mute else original


def _disabled(tqdm: Callable[..., Any]) -> Callable[..., Any]:
    def disabled_tqdm(*args: Any, **kwargs: Any) -> Any:
        kwargs["disable"] = True
        return tqdm(*args, **kwargs)

    return disabled_tqdm


def _library_switches() -> dict[str, tuple[Callable[[], Any], ...]]:
    """Each library's documented progress-bar switch: (is it off, turn off, turn on)."""
    import datasets
    import huggingface_hub.utils as hub
    import transformers.utils.logging as hf_logging

    return {
        "datasets": (
            datasets.are_progress_bars_disabled,
            datasets.disable_progress_bars,
            datasets.enable_progress_bars,
        ),
        "huggingface_hub": (
            hub.are_progress_bars_disabled,
            hub.disable_progress_bars,
            hub.enable_progress_bars,
        ),
        "transformers": (
            lambda: not hf_logging.is_progress_bar_enabled(),
            hf_logging.disable_progress_bar,
            hf_logging.enable_progress_bar,
        ),
    }


def _mute_library_bars(mute_datasets: bool, mute_downloads: bool) -> None:
    """Turn the libraries' bars off, or back on where it was us who turned them off."""
    mute = {
        "datasets": mute_datasets,
        "huggingface_hub": mute_downloads,
        "transformers": mute_downloads,
    }
    for name, (is_off, turn_off, turn_on) in _library_switches().items():
        if mute[name] and not is_off():
            turn_off()
            _CHANGED_BY_US.add(name)
        elif not mute[name] and name in _CHANGED_BY_US:
            turn_on()
            _CHANGED_BY_US.discard(name)


def _filter_known_warnings(ignore: bool) -> None:
    """Ignore the known-harmless warnings, or put back Python's default where we ignored them."""
    if not ignore and "warnings" not in _CHANGED_BY_US:
        return
    for message, category, module in KNOWN_HARMLESS_WARNINGS:
        action: Literal["ignore", "default"] = "ignore" if ignore else "default"
        warnings.filterwarnings(action, message=message, category=category, module=module)
    if ignore:
        _CHANGED_BY_US.add("warnings")
    else:
        _CHANGED_BY_US.discard("warnings")


def _set_library_logging(verbose: bool) -> None:
    mteb_logger = logging.getLogger("mteb")
    mteb_logger.setLevel(logging.INFO if verbose else logging.WARNING)
    pad_logger = logging.getLogger(PAD_ADVICE_LOGGER)
    if verbose:
        pad_logger.removeFilter(_PAD_ADVICE_FILTER)
        if not mteb_logger.handlers and not logging.getLogger().handlers:
            mteb_logger.addHandler(_VERBOSE_HANDLER)
    else:
        pad_logger.addFilter(_PAD_ADVICE_FILTER)
        mteb_logger.removeHandler(_VERBOSE_HANDLER)
