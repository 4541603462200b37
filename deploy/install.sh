#!/bin/sh
# Installs the project as its image runs it, into a new virtual environment: not editable, and
# every dependency at its version in deploy/constraints.txt. The Dockerfile and .ci/run both
# install through this script, so CI checks the very install the image ships.
# Usage, from the project's root: deploy/install.sh <new venv> <extras, e.g. dagster-plus>
set -eu
venv="$1"
extras="$2"
constraints="$(pwd)/deploy/constraints.txt"
python3 -m venv "$venv"
# PIP_CONSTRAINT, unlike --constraint, also pins what pip's isolated build of the project uses.
# setuptools too, or the venv's own older copy would stay.
PIP_CONSTRAINT="$constraints" PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$venv/bin/pip" install --quiet ".[$extras]" setuptools
"$venv/bin/pip" check
# A dependency the constraints do not pin would float: refuse it (run deploy/update-constraints.sh).
unpinned="$("$venv/bin/pip" freeze --all --exclude spotify_assets --exclude pip \
  | grep -vxF -f "$constraints" || true)"
if [ -n "$unpinned" ]; then
  echo "not pinned by deploy/constraints.txt: $unpinned" >&2
  exit 1
fi
