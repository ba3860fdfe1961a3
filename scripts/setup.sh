#!/bin/sh
# Installs the Debian packages darknet-saliency builds and tests with, or names the missing ones.
# (strace: tests/check_resume.c kills darknet inside a checkpoint write by syscall fault injection.)
# As root it also adds a deb-src entry (needed by `apt-get source darknet`) when none exists.
# Usage: scripts/setup.sh [extra packages...]
set -eu
PKGS="build-essential pkg-config dpkg-dev patch libopencv-dev check libopenblas-dev libopenblas0-openmp strace $*"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done

need_src=0
if [ -z "${DARKNET_SRC:-}" ]; then
    if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        need_src=1
    fi
fi

[ -z "$missing" ] && [ "$need_src" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    [ -n "$missing" ] && echo "setup: missing Debian packages:$missing (run as root: apt-get install$missing)" >&2
    [ "$need_src" = 1 ] && echo "setup: no deb-src entry in /etc/apt/sources.list*; add one for your suite (needed by 'apt-get source darknet') or set DARKNET_SRC=/path/to/darknet" >&2
    exit 1
fi

if [ "$need_src" = 1 ]; then
    . /etc/os-release
    suite="${VERSION_CODENAME:-bookworm}"
    echo "setup: adding /etc/apt/sources.list.d/darknet-saliency-src.sources (deb-src for $suite)"
    cat > /etc/apt/sources.list.d/darknet-saliency-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
echo "setup: apt-get update"
apt-get update -qq
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
