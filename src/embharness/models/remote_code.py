"""Remote code runs only for reviewed (model repo, model revision, code repo, code revision).

The allow-list is the registry itself: a registered spec with ``trust_remote_code`` names its
repo, its revision and, where the modeling code lives in another repository (``auto_map``
entries of the form ``repo--module.Class``), that code repository. transformers applies the
model revision only to code in the model's own repository, so code elsewhere needs its own pin
(``code_revision``), passed to transformers and recorded in the cache key and run record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from embharness.errors import HarnessError
from embharness.specs.spec import ModelSpec

COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class RemoteCode:
    """Where a model's modeling code comes from; ``repo`` None: the model's own repo or folder."""

    repo: str | None
    revision: str | None

    def as_dict(self) -> dict[str, str | None]:
        """A JSON-ready view (cache key and run record)."""
        return {"code_repo": self.repo, "code_revision": self.revision}


def auto_map_repos(folder: Path) -> set[str]:
    """Repositories named by a local config's ``auto_map`` (``repo--module.Class`` entries)."""
    try:
        auto_map = json.loads((folder / "config.json").read_text()).get("auto_map") or {}
    except (OSError, ValueError):
        return set()
    refs = [r for v in auto_map.values() for r in (v if isinstance(v, list) else [v]) if r]
    return {ref.split("--")[0] for ref in refs if "--" in ref}


def remote_code_for(spec: ModelSpec, local_folder: Path | None) -> RemoteCode:
    """The code source of ``spec``: from a local config's ``auto_map``, else the spec's data."""
    if local_folder is not None:
        repos = auto_map_repos(local_folder)
        if len(repos) > 1:
            raise HarnessError(
                f"{local_folder}/config.json takes code from several repositories "
                f"({', '.join(sorted(repos))})",
                "use a checkpoint whose auto_map names at most one code repository",
            )
        repo = next(iter(repos), None)
    else:
        repo = spec.code_repo
    return RemoteCode(repo, spec.code_revision if repo else None)


def _refuse(spec: ModelSpec, why: str) -> HarnessError:
    return HarnessError(
        f"model {spec.name}@{spec.revision} asks for trust_remote_code, which embharness allows "
        f"only for reviewed (model repo, revision, code repo, code revision): {why}",
        "use a model that runs without remote code, or register a reviewed spec in "
        "embharness.specs.registry with trust_remote_code, its revision and code_repo",
    )


def _unpinned(spec: ModelSpec, code: RemoteCode) -> HarnessError:
    shown = f" ({code.revision!r} is not a commit)" if code.revision else ""
    return HarnessError(
        f"{spec.name} runs modeling code from {code.repo}, and no commit of it is pinned{shown}",
        f"find one with huggingface_hub.list_repo_commits({code.repo!r}), review it, and set "
        "`code_revision: <40-hex commit>` for the model in the sweep file or pass --code-revision",
    )


def check_remote_code(spec: ModelSpec, code: RemoteCode) -> None:
    """Raise unless ``spec`` at its revision, with modeling code from ``code``, is allow-listed."""
    from embharness.specs.registry import registered_spec

    reviewed = registered_spec(spec.name)
    if reviewed is None or not reviewed.trust_remote_code:
        raise _refuse(spec, "this model is not registered with trust_remote_code")
    if spec.revision != reviewed.revision:
        raise _refuse(spec, f"the reviewed revision is {reviewed.revision}")
    if code.repo is None:
        return  # the code ships in the model's own repo or folder, pinned by revision or hash
    if code.repo != reviewed.code_repo:
        raise _refuse(spec, f"its code comes from {code.repo}, not {reviewed.code_repo}")
    if not (code.revision and COMMIT.fullmatch(code.revision)):
        raise _unpinned(spec, code)
    if reviewed.code_revision and code.revision != reviewed.code_revision:
        raise _refuse(spec, f"the reviewed code revision is {reviewed.code_revision}")
