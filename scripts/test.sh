#!/usr/bin/env bash
# Runs every test of the workspace, the way CI does: installs and starts the local servers the
# tests need (moto; PostgreSQL and Redis when absent), then format check, lints, tests, docs.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Never let a test reach for instance metadata or a developer's AWS profile.
export AWS_EC2_METADATA_DISABLED=true

bash scripts/build-deps.sh
bash scripts/test-servers.sh

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast --profile ci
else
  echo "cargo-nextest not found; falling back to cargo test"
  cargo test --workspace --locked --no-fail-fast
fi
# Doc tests (nextest does not run them).
cargo test --workspace --locked --doc

echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

echo "all checks passed"
