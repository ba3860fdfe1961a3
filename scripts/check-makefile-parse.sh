#!/bin/sh
# check-makefile-parse.sh: fails when reading the Makefile runs pkg-config. On a fresh machine the
# packages whose flags pkg-config knows (check, libopencv-dev, libopenblas-dev) are installed by
# `make setup`, which runs after the Makefile is read: a flag asked for at parse time comes back
# empty and the first `make test` fails to link. Runs the parse (make -n, nothing executed) with
# a pkg-config on PATH that records its calls and knows nothing, for each set of toggles.
set -eu
cd "$(dirname "$0")/.."
fake=$(mktemp -d /tmp/pkgconfig-guard.XXXXXX)
trap 'rm -rf "$fake"' EXIT
cat > "$fake/pkg-config" <<SH
#!/bin/sh
echo "pkg-config \$*" >> "$fake/calls"
exit 1
SH
chmod +x "$fake/pkg-config"
for toggles in "" "SANITIZE=1" "BLAS=0 OPENCV=0" "DEBUG=1 OPENMP=1" "FORK=alexeyab BUILD=build-ab"; do
    # shellcheck disable=SC2086
    PATH="$fake:$PATH" make --no-print-directory -n $toggles setup >/dev/null
    if [ -s "$fake/calls" ]; then
        echo "check-makefile-parse: reading the Makefile (make -n $toggles setup) ran:" >&2
        sed 's/^/  /' "$fake/calls" >&2
        echo "  ask for package flags in recipes (scripts/pkg-flags.sh), after setup has installed the packages" >&2
        exit 1
    fi
done
echo "check-makefile-parse: no pkg-config call while the Makefile is read"
