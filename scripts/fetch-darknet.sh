#!/bin/sh
# Puts an unpatched darknet source tree at $1/tree: Debian's `darknet` source package (pjreddie's
# darknet, 2018-09-14 snapshot, Debian's patches applied), or a copy of the checkout named by $2.
# Never downloads again what is there.
set -eu
dest="$1"; src="${2:-}"
rm -rf "$dest/tree"
mkdir -p "$dest"
if [ -n "$src" ]; then
    [ -f "$src/include/darknet.h" ] || { echo "fetch-darknet: DARKNET_SRC=$src is not a darknet checkout (no include/darknet.h)" >&2; exit 1; }
    cp -a "$src" "$dest/tree"
    rm -rf "$dest/tree/.git" "$dest/tree/obj" "$dest/tree/.pc"
else
    dir=$(ls -d "$dest"/darknet-0.0.0* 2>/dev/null | head -n 1 || true)
    if [ -z "$dir" ]; then
        echo "fetch-darknet: apt-get source darknet (into $dest)"
        (cd "$dest" && apt-get source -qq darknet 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
        dir=$(ls -d "$dest"/darknet-0.0.0* 2>/dev/null | head -n 1 || true)
        [ -n "$dir" ] || { echo "fetch-darknet: 'apt-get source darknet' gave no source tree (is there a deb-src entry? run scripts/setup.sh as root)" >&2; exit 1; }
    fi
    cp -a "$dir" "$dest/tree"
fi
