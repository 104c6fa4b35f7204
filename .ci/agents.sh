#!/usr/bin/env bash
# Install the pinned coding-agent clients (.ci/agents.lock) once into a cache folder:
#   ${SECURELLM_AGENTS_DIR:-$HOME/.cache/securellm/agents}/npm   npm clients (bin in npm/node_modules/.bin)
#   ${SECURELLM_AGENTS_DIR:-...}/<name>                         one venv per PyPI client
# A stamp file per client (stamps/<name>-<version>) makes a second run install nothing.
# Usage: .ci/agents.sh [NAME...]   (default: every client in the lock file)
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${SECURELLM_AGENTS_DIR:-$HOME/.cache/securellm/agents}"
LOCK=".ci/agents.lock"
PYTHON="${PYTHON:-python3}"
mkdir -p "$DIR/stamps" "$DIR/npm"

# Two runs at once (two helpers, two CI jobs on one cache) take turns.
exec 9>"$DIR/.lock"
flock 9

wanted=("$@")
is_wanted() {
  [ "${#wanted[@]}" -eq 0 ] && return 0
  local w
  for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

install_npm() {  # name package version
  command -v npm >/dev/null || { echo "agents: npm is missing (apt-get install npm)" >&2; return 1; }
  # Telemetry/update checks off during install; platform binaries come as optional deps from npm.
  npm install --prefix "$DIR/npm" --no-fund --no-audit --save-exact "$2@$3"
}

install_pypi() {  # name package version
  local venv="$DIR/$1"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$2==$3"
}

status=0
while read -r name kind package version; do
  case "$name" in ''|'#'*) continue ;; esac
  is_wanted "$name" || continue
  stamp="$DIR/stamps/$name-$version"
  [ -e "$stamp" ] && continue
  echo ">> agents: installing $name ($package $version)"
  if "install_$kind" "$name" "$package" "$version"; then
    rm -f "$DIR/stamps/$name-"*
    touch "$stamp"
  else
    echo "agents: installing $name failed" >&2
    status=1
  fi
done <"$LOCK"
exit "$status"
