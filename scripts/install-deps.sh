#!/usr/bin/env bash
# Installs what edgepipe needs to build and test, from Debian's packages. Idempotent: when every
# package is already installed it changes nothing and does not touch the network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  librdkafka-dev libcurl4-openssl-dev libsimdjson-dev libmongoc-dev libbson-dev liburing-dev
  libboost-dev libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev
  libcli11-dev libssl-dev zlib1g-dev libisal-dev libdeflate0 libmicrohttpd-dev libsystemd-dev
  kcat valgrind python3 ccache clang-16 clang-tidy-16 libclang-rt-16-dev
  chromium  # the status page's browser test (tests/integration/test_status_page.py)
  postgresql-15 postgresql-client-15 libpq-dev acl  # tests/integration/test_postgres_cdc.py
  python3-venv openjdk-17-jdk-headless maven  # scripts/spark-env.sh, scripts/debezium-env.sh (javac)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's postgresql-15 creates and starts a cluster "15 main" on port 5432, the port
  # scripts/stack.sh gives its own PostgreSQL. Drop the one this install just created.
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && command -v pg_dropcluster >/dev/null &&
     $SUDO pg_lsclusters -h 2>/dev/null | grep -q '^15 *main '; then
    echo "install-deps: dropping the freshly created Debian cluster 15/main (stack.sh runs its own)"
    $SUDO pg_dropcluster --stop 15 main
  fi
fi

# Independent clients for the integration tests (PyPI).
if ! python3 -c 'import pymongo, kafka, jsonschema' 2>/dev/null; then
  echo "install-deps: installing pymongo, kafka-python and jsonschema from PyPI"
  python3 -m pip install -q pymongo kafka-python jsonschema 2>/dev/null ||
    python3 -m pip install -q --break-system-packages pymongo kafka-python jsonschema
fi
# The browser test drives Debian's chromium with Playwright for Python; the wheel carries its
# own driver. `playwright install` (which downloads a browser build) is never run.
if ! python3 -c 'import playwright.sync_api' 2>/dev/null; then
  echo "install-deps: installing playwright from PyPI"
  python3 -m pip install -q playwright 2>/dev/null ||
    python3 -m pip install -q --break-system-packages playwright
fi
echo "install-deps: done"
