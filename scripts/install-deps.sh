#!/usr/bin/env bash
# Installs what edgepipe needs to build and test, from Debian's packages. Idempotent: when every
# package is already installed it changes nothing and does not touch the network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  librdkafka-dev libcurl4-openssl-dev libsimdjson-dev libmongoc-dev libbson-dev liburing-dev
  libboost-dev libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev
  libcli11-dev libssl-dev zlib1g-dev libisal-dev libdeflate0 libmicrohttpd-dev libsystemd-dev
  kcat valgrind python3 ccache clang-16 clang-tidy-16
  python3-venv openjdk-17-jre-headless maven  # examples: scripts/spark-env.sh
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
fi

# Independent clients for the integration tests (PyPI).
if ! python3 -c 'import pymongo, kafka, jsonschema' 2>/dev/null; then
  echo "install-deps: installing pymongo, kafka-python and jsonschema from PyPI"
  python3 -m pip install -q pymongo kafka-python jsonschema 2>/dev/null ||
    python3 -m pip install -q --break-system-packages pymongo kafka-python jsonschema
fi
echo "install-deps: done"
