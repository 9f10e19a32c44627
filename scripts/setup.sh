#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a working tm: installs the Debian packages,
# builds everything (Release, ccache, precompiled LibTorch headers) and runs the main job on the
# bundled sample scene. Safe to re-run; it skips what is already done.
#
#   scripts/setup.sh            # build into ./build
#   TM_BUILD_DIR=out scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TM_BUILD_DIR:-build}

# libopenblas0-openmp: Debian's libtorch otherwise runs on reference BLAS (45x slower);
# libgloo-dev: the c10d/Gloo headers; see ../shared/spec/build-environment.md.
PACKAGES=(build-essential cmake ninja-build git ccache pkg-config
  libgtest-dev libgdal-dev gdal-bin libproj-dev libgeos-dev libtorch-dev libtbb-dev
  libboost-program-options-dev nlohmann-json3-dev libgloo-dev libopenblas0-openmp)

missing=$(dpkg-query -W -f='${Status} ${Package}\n' "${PACKAGES[@]}" 2>&1 |
  grep -v '^install ok installed' || true)
if [ -z "$missing" ]; then
  echo "== Debian packages already installed"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  echo "== Installing Debian packages"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
fi

# ccache with precompiled headers needs these (ccache manual, "Precompiled headers").
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}

echo "== Configuring ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DTM_PCH=ON
echo "== Building"
cmake --build "$BUILD_DIR" -j"$(nproc)"

echo "== Main job: the bundled sample scene"
"$BUILD_DIR/apps/tm_info" "$BUILD_DIR/sample_data/s2l2a_sample.tif"
echo "== Done. Tools are in $BUILD_DIR/apps; run the tests with: ctest --test-dir $BUILD_DIR --output-on-failure -j2"
