#!/usr/bin/env bash
# Installs the system packages that building AAE needs, idempotently: cmake and libclang (the
# llama-cpp-2 crate in aae-local compiles the llama.cpp it vendors with cmake and generates its
# bindings with bindgen, which loads libclang) and a C/C++ compiler. Does nothing, quickly, when
# they are already there; uses apt-get (as root) otherwise. Needs no stdin.
set -euo pipefail

log() { printf 'build-deps: %s\n' "$*" >&2; }
die() { printf 'build-deps: error: %s\n' "$*" >&2; exit 1; }

# bindgen finds libclang through LIBCLANG_PATH, or llvm-config, or the usual library folders.
have_libclang() {
  local f
  for f in ${LIBCLANG_PATH:+"$LIBCLANG_PATH"/libclang*.so*} /usr/lib/llvm-*/lib/libclang.so* \
    /usr/lib/*-linux-gnu/libclang*.so* /usr/lib64/libclang.so*; do
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

if [ "${#missing[@]}" = 0 ]; then
  exit 0
fi
command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install them with your package manager"
[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}"
log "installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; trying the install anyway"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null </dev/null
