#!/usr/bin/env bash
# Installs the Debian packages Caudal needs, only those missing. Needs root (or sudo).
# usage: system-deps.sh base|test
set -euo pipefail
# libpango + fonts: WeasyPrint renders bills, route sheets and reports to PDF.
want=(nodejs npm gettext libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
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
    libpango*) ldconfig -p | grep -q "${1%-*}\.so" ;;
    fonts-dejavu-core) [[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] ;;
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
