#!/usr/bin/env bash
# Installs the system packages that building and testing AAE need, idempotently: cmake and libclang
# (the llama-cpp-2 crate in aae-local compiles the llama.cpp it vendors with cmake and generates its
# bindings with bindgen, which loads libclang), a C/C++ compiler, and poppler-utils (the tests
# check generated PDFs with pdftotext). Does nothing, quickly, when
# they are already there; uses apt-get (as root) otherwise. Needs no stdin.
set -euo pipefail

log() { printf 'build-deps: %s\n' "$*" >&2; }
die() { printf 'build-deps: error: %s\n' "$*" >&2; exit 1; }

# bindgen finds libclang through LIBCLANG_PATH, or llvm-config, or the usual library folders.
have_libclang() {
  local f
  # libclang.so or libclang-NN.so, never libclang-cpp (a different library bindgen cannot use).
  for f in ${LIBCLANG_PATH:+"$LIBCLANG_PATH"/libclang.so* "$LIBCLANG_PATH"/libclang-[0-9]*.so*} \
    /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* \
    /usr/lib/*-linux-gnu/libclang.so* /usr/lib/*-linux-gnu/libclang-[0-9]*.so* /usr/lib64/libclang.so*; do
    [ -e "$f" ] && return 0
  done
  return 1
}

missing=()
command -v cmake >/dev/null || missing+=(cmake)
have_libclang || missing+=(libclang-dev)
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
# pdftotext/pdfinfo: the tests read the PDF reports aae-creative writes, as a user's viewer would.
command -v pdftotext >/dev/null || missing+=(poppler-utils)

if [ "${#missing[@]}" = 0 ]; then
  exit 0
fi
command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install them with your package manager"
[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}"
log "installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; trying the install anyway"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null </dev/null
