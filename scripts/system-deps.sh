#!/usr/bin/env bash
# Installs the Debian packages Caudal needs, only those missing. Needs root (or sudo).
# usage: system-deps.sh base|test
set -euo pipefail
want=(nodejs npm gettext)
if [[ ${1:-base} == test ]]; then
  want+=(postgresql chromium)
fi
have() {
  case $1 in
    nodejs) command -v node >/dev/null ;;
    npm) command -v npm >/dev/null ;;
    gettext) command -v msgfmt >/dev/null ;;
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
    chromium) command -v chromium >/dev/null ;;
  esac
}
missing=()
for pkg in "${want[@]}"; do have "$pkg" || missing+=("$pkg"); done
[[ ${#missing[@]} == 0 ]] && exit 0
echo "Installing Debian packages: ${missing[*]}"
sudo=""
[[ $(id -u) != 0 ]] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
