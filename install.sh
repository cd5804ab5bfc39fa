#!/usr/bin/env bash
# Builds docker-mlist and installs it as a Docker CLI plugin into
# ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-mlist.
#
#   ./install.sh                         build, then install
#   BINARY=bin/docker-mlist ./install.sh install a binary built already
set -euo pipefail

cd "$(dirname "$0")"

if [ -z "${BINARY:-}" ]; then
	VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)}
	BINARY=bin/docker-mlist
	echo "building $BINARY ($VERSION)"
	CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -tags containers_image_openpgp \
		-o "$BINARY" ./cmd/docker-mlist
fi

dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
mkdir -p "$dir"
# Install through a temporary name so a running `docker mlist` never sees a
# half-written binary.
install -m 755 "$BINARY" "$dir/.docker-mlist.tmp"
mv -f "$dir/.docker-mlist.tmp" "$dir/docker-mlist"
echo "installed docker-mlist to $dir/docker-mlist"

if command -v docker >/dev/null 2>&1; then
	if docker mlist --help >/dev/null 2>&1; then
		echo "try: docker mlist --help"
	else
		echo "warning: docker does not run the plugin yet; check that $dir is the Docker CLI's config directory" >&2
	fi
else
	echo "note: the docker CLI is not in PATH; docker-mlist runs as 'docker mlist'" >&2
fi
