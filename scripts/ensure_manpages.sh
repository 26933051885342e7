#!/usr/bin/env bash
# Install the Debian manual-page packages that the offline Manpages* tasks are built from.
#
# Idempotent: does nothing when every package is installed and its man pages are on disk.
# Runs `apt-get update` only when a package has no install candidate. Slim Debian images often
# drop /usr/share/man via a dpkg `path-exclude` rule (e.g. /etc/dpkg/dpkg.cfg.d/docker); the
# install then passes `--path-include` for the man folders, which dpkg applies after its config
# files, so the pages land on disk without editing the image's dpkg configuration. Packages that
# are "installed" but whose pages were dropped by such a rule are reinstalled the same way.
#
# Usage: scripts/ensure_manpages.sh [PACKAGE...]   (default: the list below)
set -euo pipefail

# Keep in sync with MANPAGE_PACKAGES in src/embharness/tasks/manpages_offline.py.
DEFAULT_PACKAGES=(manpages manpages-dev
  manpages-de manpages-de-dev manpages-fr manpages-fr-dev manpages-es manpages-es-dev
  manpages-pt-br manpages-pt-br-dev manpages-pl manpages-pl-dev manpages-ru manpages-ru-dev)
if [[ $# -gt 0 ]]; then PACKAGES=("$@"); else PACKAGES=("${DEFAULT_PACKAGES[@]}"); fi

export DEBIAN_FRONTEND=noninteractive

log() { printf 'ensure_manpages: %s\n' "$*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo DEBIAN_FRONTEND=noninteractive "$@"
  else
    log "need root (or sudo) to run: $*"
    exit 1
  fi
}

# True when dpkg says the package is installed and every man page it lists is on disk.
is_complete() {
  local pkg=$1 status page count=0
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || return 1
  while IFS= read -r page; do
    [[ -e $page || -L $page ]] || return 1
    count=$((count + 1))
  done < <(dpkg-query -L "$pkg" 2>/dev/null | grep -E '^/usr/share/man/.+\.gz$' || true)
  [[ $count -gt 0 ]]
}

has_candidate() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n $candidate && $candidate != "(none)" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_complete "$pkg" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  log "all present: ${PACKAGES[*]}"
  exit 0
fi
log "installing: ${missing[*]}"

for pkg in "${missing[@]}"; do
  if ! has_candidate "$pkg"; then
    log "no install candidate for $pkg; running apt-get update"
    as_root apt-get update -qq
    break
  fi
done

if grep -rqsE '^\s*path-exclude\s*=?\s*/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/; then
  log "dpkg config excludes /usr/share/man; overriding with --path-include for this install"
fi
as_root apt-get install -y -qq --no-install-recommends --reinstall \
  -o 'Dpkg::Options::=--path-include=/usr/share/man/*' \
  "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
  is_complete "$pkg" || still+=("$pkg")
done
if [[ ${#still[@]} -gt 0 ]]; then
  log "man pages still missing after install: ${still[*]}"
  exit 1
fi
log "done: ${missing[*]}"
