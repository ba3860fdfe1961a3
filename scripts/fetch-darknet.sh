#!/bin/sh
# Puts an unpatched darknet source tree at $1/tree: Debian's `darknet` source package (pjreddie's
# darknet, 2018-09-14 snapshot, Debian's patches applied), a copy of the checkout named by $2, or
# (no $2) the source archive $3 unpacked once its SHA-256 is $4 (AlexeyAB's fork, ../shared/forks/).
# Never downloads again what is there.
set -eu
dest="$1"; src="${2:-}"; archive="${3:-}"; sha="${4:-}"
rm -rf "$dest/tree"
mkdir -p "$dest"
if [ -n "$src" ]; then
    [ -f "$src/include/darknet.h" ] || { echo "fetch-darknet: DARKNET_SRC=$src is not a darknet checkout (no include/darknet.h)" >&2; exit 1; }
    cp -a "$src" "$dest/tree"
    rm -rf "$dest/tree/.git" "$dest/tree/obj" "$dest/tree/.pc"
elif [ -n "$archive" ]; then
    [ -f "$archive" ] || { echo "fetch-darknet: no source archive $archive (set AB_ARCHIVE=/path, or DARKNET_SRC=/path/to/a/checkout)" >&2; exit 1; }
    got=$(sha256sum "$archive" | cut -d' ' -f1)
    [ "$got" = "$sha" ] || { echo "fetch-darknet: $archive has SHA-256 $got, not $sha: refusing to unpack it" >&2; exit 1; }
    rm -rf "$dest/tree.tmp"; mkdir -p "$dest/tree.tmp"
    tar -xJf "$archive" -C "$dest/tree.tmp"
    top=$(ls "$dest/tree.tmp")
    [ -f "$dest/tree.tmp/$top/include/darknet.h" ] || { echo "fetch-darknet: $archive holds no darknet tree (no */include/darknet.h)" >&2; exit 1; }
    mv "$dest/tree.tmp/$top" "$dest/tree"
    rm -rf "$dest/tree.tmp"
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
