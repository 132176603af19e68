#!/bin/sh
# The Debian packages `make test` needs (the tests start these programs themselves): installed when
# missing and possible (root with apt-get), else stop with the command to run. Add a package here
# when a test starts a new program. TIRTA_TEST_NO_APT=1 never installs (tests/test_system_packages.py).
set -eu
need=""
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"   # store tests
command -v mosquitto >/dev/null 2>&1 || need="$need mosquitto"                  # MQTT ingestion
command -v mosquitto_sub >/dev/null 2>&1 || need="$need mosquitto-clients"      # MQTT benchmark reference
[ -x /usr/bin/chromium ] || need="$need chromium"                               # dashboard and report tests
command -v runuser >/dev/null 2>&1 || need="$need util-linux"                   # PostgreSQL as postgres when root
command -v openssl >/dev/null 2>&1 || need="$need openssl"                      # alert tests make a TLS certificate
command -v ogrinfo >/dev/null 2>&1 || need="$need gdal-bin"                     # GeoPackage export tests
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"              # KPI report test reads its PDF
[ -z "$need" ] && exit 0
if [ -z "${TIRTA_TEST_NO_APT:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing the Debian packages the tests need:$need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $need
else
  echo "make test: the tests need the Debian packages:$need" >&2
  echo "install them with:  sudo apt-get install -y$need" >&2
  exit 1
fi
