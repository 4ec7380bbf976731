#!/usr/bin/env bash
#: Ensures the WS-Man test server's Python venv exists with requirements.txt installed, then
#: prints the venv's python. The venv lives outside the repository (default
#: /var/cache/vmcert-lab/winrm-venv, or $VMCERT_WINRM_VENV) and is rebuilt when
#: requirements.txt changes. Fails with a message when python3 or its venv module is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${VMCERT_WINRM_VENV:-/var/cache/vmcert-lab/winrm-venv}
req="$here/requirements.txt"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.vmcert-requirements" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
py=$(command -v python3 || true)
if [ -z "$py" ]; then
  echo "venv.sh: python3 not found: install python3 (and python3-venv) first" >&2
  exit 1
fi
# The real interpreter, not a pyenv shim: the venv's python must be the process that runs.
real=$("$py" -c 'import sys; print(sys.executable)')
if ! "$real" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "venv.sh: $real has no venv/ensurepip module: apt-get install python3-venv" >&2
  exit 1
fi
mkdir -p "$(dirname "$venv")"
rm -rf "$venv"
"$real" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
echo "$want" > "$venv/.vmcert-requirements"
echo "$venv/bin/python"
