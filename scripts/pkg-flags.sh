#!/bin/sh
# pkg-flags.sh --cflags|--libs PACKAGE...: the compiler or linker flags of pkg-config packages,
# asked when a recipe runs (after `make setup` installed them), never when the Makefile is read.
# Dies naming the package and the Debian package to install when pkg-config does not know it.
set -eu
mode="$1"; shift
out=""
for p in "$@"; do
    if ! f=$(pkg-config "$mode" "$p" 2>/dev/null); then
        case "$p" in
            check) deb=check ;;
            opencv4|opencv) deb=libopencv-dev ;;
            openblas) deb=libopenblas-dev ;;
            *) deb="the package that provides $p.pc" ;;
        esac
        echo "pkg-flags: pkg-config knows no '$p' (install $deb: 'make setup' as root)" >&2
        exit 1
    fi
    out="$out $f"
done
echo "$out"
