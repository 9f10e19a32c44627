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
# python3-gdal, python3-qgis: the GDAL plugin's client tests (osgeo.gdal; QGIS headless with
# QT_QPA_PLATFORM=offscreen, which needs no X server: python3-qgis brings the QGIS libraries and
# the GDAL provider through qgis-providers, also with --no-install-recommends).
# help2man, man-db: the tools' man pages, generated from their --help, and their test (docs/).
PACKAGES=(build-essential cmake ninja-build git ccache pkg-config
  libgtest-dev libgdal-dev gdal-bin libproj-dev libgeos-dev libtorch-dev libtbb-dev
  libboost-program-options-dev nlohmann-json3-dev libgloo-dev libopenblas0-openmp
  libcurl4-openssl-dev
  python3-gdal python3-qgis help2man man-db)

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
# Paths relative to the checkout in the cache key: clones and worktrees elsewhere share hits.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}

echo "== Configuring ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DTM_PCH=ON
echo "== Building"
cmake --build "$BUILD_DIR" -j"$(nproc)"

echo "== Main job: NDVI, land cover and radar for a real Sentinel-2 scene, with the demo model"
# sample_data/real: a 2.24 km crop of real Sentinel-2 L2A (Brazil); no --model: the built-in demo
# model (sample_data/demo_model), trained by tm on a handful of samples. For the official TerraMind
# pass --model terramind_v1_base (downloaded on first use; tm_models list).
scene=sample_data/real/s2l2a_brazil_282D_485L_3_3.tif
"$BUILD_DIR/apps/tm_info" "$scene" --as S2L2A
"$BUILD_DIR/apps/tm_generate" --input S2L2A="$scene" --to NDVI,LULC,S1RTC --greedy --quicklook \
  --out-dir "$BUILD_DIR/sample_out" --overwrite
echo "== Done. Tools are in $BUILD_DIR/apps; run the tests with: scripts/test.sh (or scripts/test.sh --quick for the suite alone)"
