#!/usr/bin/env bash
# Install the Debian packages the test suite needs, where missing (needs root).
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
dpkg -s libharfbuzz-subset0 >/dev/null 2>&1 || need+=(libharfbuzz-subset0)
# The PDFs' fonts (acsm_portal/pdf.py): DejaVu, and Noto for the other scripts people's names are written in.
for fonts in fonts-dejavu-core fonts-noto-core fonts-noto-cjk; do
  dpkg -s "$fonts" >/dev/null 2>&1 || need+=("$fonts")
done
command -v pdftotext >/dev/null || need+=(poppler-utils)
# Tests read the certificate's QR code back from the rendered page (zbarimg); the portal itself never needs it.
command -v zbarimg >/dev/null || need+=(zbar-tools)
# The multi-node test puts nginx in front of two web nodes (tests/nodes/, deploy/nginx.conf).
test -x /usr/sbin/nginx || command -v nginx >/dev/null || need+=(nginx)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
