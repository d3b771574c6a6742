#!/usr/bin/env bash
# Installs what building and testing Tokamak needs on Debian 12.
#   cmake/install-deps.sh          build dependencies (engine, CLI, app)
#   cmake/install-deps.sh --test   also what the tests use (clang for the
#                                  fuzzer, Python oracles from PyPI)
# Runs apt-get through sudo when not root. Safe to run again.
set -euo pipefail

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

packages=(
  cmake ninja-build g++ ccache pkg-config git
  libpcre2-dev libfmt-dev nlohmann-json3-dev libcli11-dev libsentencepiece-dev
  libsqlite3-dev libsqlitecpp-dev libgtest-dev libgmock-dev
  qt6-base-dev qt6-declarative-dev qt6-charts-dev qt6-svg-dev qt6-qpa-plugins
  qml6-module-qtquick-controls qml6-module-qtquick-layouts qml6-module-qtquick-dialogs
  qml6-module-qtquick-window qml6-module-qtquick-templates qml6-module-qtqml-workerscript
  qml6-module-qtqml-models qml6-module-qt-labs-folderlistmodel qml6-module-qtcharts dpkg-dev
)
if [ "$want_test" = 1 ]; then
  # desktop-file-utils, appstream: the package test validates the desktop
  # entry and the AppStream metainfo; xvfb, x11-utils: it reads the window's
  # class and icon on an X server.
  packages+=(clang libclang-rt-14-dev python3 python3-pip desktop-file-utils appstream xvfb x11-utils)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$want_test" = 1 ]; then
  # Independent oracles for the tests (llama.cpp's gguf-py, SentencePiece,
  # Hugging Face tokenizers, safetensors, numpy, jinja2).
  py_packages=(numpy==2.* gguf==0.19.0 sentencepiece==0.2.* tokenizers==0.23.* safetensors==0.8.* jinja2==3.1.*)
  if ! python3 -c "import numpy, gguf, sentencepiece, tokenizers, safetensors, jinja2" 2>/dev/null; then
    echo "install-deps: installing Python test oracles"
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check "${py_packages[@]}"
  fi
fi
