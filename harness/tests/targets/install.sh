#!/usr/bin/env bash
# Installs what the foreign targets need on Debian 12, as root, and builds the C programs into
# target/targets/ (git-ignored). Idempotent: what is there already is left as it is.
#
#   harness/tests/targets/install.sh
#
# Debian: build tools, pkg-config, libslirp-dev (4.7.0), liblwipv6-dev (1.5a), iproute2.
# PyPI: PyTCP==2.7.6 for $PYTHON (default python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
PYTCP_VERSION=2.7.6
packages=(build-essential pkg-config libglib2.0-dev libslirp-dev liblwipv6-dev iproute2 python3)

say() { echo "install.sh: $*" >&2; }

missing=()
for p in "${packages[@]}"; do
	if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	say "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if "$PYTHON" -c "import importlib.metadata as m, sys; sys.exit(m.version('PyTCP') != '$PYTCP_VERSION')" 2>/dev/null; then
	:
else
	if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
		say "apt-get install python3-pip"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pip
	fi
	say "pip install PyTCP==$PYTCP_VERSION"
	pip_args=(install --quiet --disable-pip-version-check "PyTCP==$PYTCP_VERSION")
	# Debian's own python3 refuses pip installs outside a virtual environment (PEP 668).
	if [ -n "$("$PYTHON" -c 'import sysconfig, os; p = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"); print(p if os.path.exists(p) else "")')" ]; then
		pip_args+=(--break-system-packages)
	fi
	"$PYTHON" -m pip "${pip_args[@]}"
fi

make -C "$here" --no-print-directory
say "ready: $("$PYTHON" -c "import importlib.metadata as m; print('PyTCP', m.version('PyTCP'))"), libslirp $(pkg-config --modversion slirp), liblwipv6 $(dpkg-query -W -f='${Version}' liblwipv6-dev)"
