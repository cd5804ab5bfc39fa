#!/bin/sh
# Installs the peers `make bench` compares `docker mlist copy` against
# (crane, regctl and regsync; skopeo comes from the distribution, see
# setup.sh) into bin/peers, and prints that directory for the caller's
# PATH. Only the bench target calls it: CI (`make check`) does not build
# the peers.
set -eu
GO=${GO:-go}
dir=$(cd "$(dirname "$0")/.." && pwd)/bin/peers
mkdir -p "$dir"
# Pinned versions, so figures from different days compare the same peers.
CRANE=github.com/google/go-containerregistry/cmd/crane@v0.22.1
REGCTL=github.com/regclient/regclient/cmd/regctl@v0.11.7
REGSYNC=github.com/regclient/regclient/cmd/regsync@v0.11.7
# manifest-tool (github.com/estesp/manifest-tool/v2) is not served by the
# module proxy this project builds from (403 for its version list), so the
# create --push comparison has crane and regctl only.
install() { # name module@version
	if [ -x "$dir/$1" ] && [ "$(cat "$dir/$1.version" 2>/dev/null)" = "$2" ]; then
		return
	fi
	echo "peers.sh: go install $2" >&2
	if GOBIN="$dir" CGO_ENABLED=0 "$GO" install "$2" >&2; then
		echo "$2" >"$dir/$1.version"
	else
		# A peer that will not build (offline, proxy down) only drops that
		# comparison: the benchmarks skip a peer missing from PATH.
		echo "peers.sh: could not install $1; the benchmarks will skip it" >&2
	fi
}
(cd /tmp && install crane "$CRANE" && install regctl "$REGCTL" && install regsync "$REGSYNC")
echo "$dir"
