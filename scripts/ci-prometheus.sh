#!/bin/sh
# Installs Prometheus and promtool from Debian's `prometheus` package when they
# are missing, without starting the packaged service: the tests start their own
# server on a loopback port with a temporary storage directory.
#
#   scripts/ci-prometheus.sh          # install if missing, print versions
#
# Needs root (or sudo) and apt. Idempotent; exits 0 when both binaries exist.
set -eu

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  promtool --version 2>&1 | head -n 1
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-prometheus: apt-get not found; install Prometheus (promtool and prometheus) another way" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ci-prometheus: need root or sudo to install the prometheus package" >&2
    exit 1
  fi
fi

# policy-rc.d exit 101 tells invoke-rc.d not to start services during the install
# (containers and CI runners have no init to start them anyway).
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  CREATED_POLICY=1
fi
cleanup() {
  if [ "$CREATED_POLICY" = "1" ]; then $SUDO rm -f "$POLICY"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null

# Stop the packaged service if an init system started it anyway.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

promtool --version 2>&1 | head -n 1
prometheus --version 2>&1 | head -n 1
