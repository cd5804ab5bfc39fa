#!/usr/bin/env bash
# Installs docker-mlist as a Docker CLI plugin into
# ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins, where `docker` finds it.
#
#   ./install.sh                    build from source (needs Go), then install
#   ./install.sh dist/              the build for this machine from a release
#                                   directory, checked against its SHA256SUMS
#   ./install.sh dist/docker-mlist-1.0.0-linux-amd64
#                                   that release file, checked against the
#                                   SHA256SUMS next to it
#   BINARY=bin/docker-mlist ./install.sh   a binary built already (make install)
#
# Running it again with the same binary changes nothing.
set -euo pipefail

die() { echo "install: $*" >&2; exit 1; }

machine() {
	local os arch
	case "$(uname -s)" in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	MINGW* | MSYS* | CYGWIN*) os=windows ;;
	*) die "unsupported operating system $(uname -s); build from source with 'make build'" ;;
	esac
	case "$(uname -m)" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	armv7* | armv8l) arch=arm-v7 ;;
	*) die "unsupported architecture $(uname -m); build from source with 'make build'" ;;
	esac
	echo "$os-$arch"
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

# verify FILE: its sha256 must be the one SHA256SUMS next to it lists.
verify() {
	local file=$1 sums name want got
	sums=$(dirname "$file")/SHA256SUMS
	name=$(basename "$file")
	[ -f "$sums" ] || die "no SHA256SUMS next to $file: cannot verify it; not installed"
	want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$sums")
	[ -n "$want" ] || die "$name is not listed in $sums; not installed"
	got=$(sha256 "$file")
	[ "$got" = "$want" ] || die "checksum mismatch for $file: SHA256SUMS says $want, the file has $got; not installed"
	echo "verified $name against $sums"
}

plugin_version() {
	"$1" docker-cli-plugin-metadata 2>/dev/null | sed -n 's/^ *"Version": *"\([^"]*\)".*/\1/p'
}

host=$(machine)
ext=
case "$host" in windows-*) ext=.exe ;; esac

src=${BINARY:-}
if [ -z "$src" ] && [ $# -gt 0 ]; then
	arg=$1
	if [ -d "$arg" ]; then
		shopt -s nullglob
		matches=("${arg%/}"/docker-mlist-*-"$host$ext")
		shopt -u nullglob
		case ${#matches[@]} in
		0) die "no build for $host in $arg (expected docker-mlist-VERSION-$host$ext)" ;;
		1) src=${matches[0]} ;;
		*) die "several builds for $host in $arg: ${matches[*]}; name one" ;;
		esac
	elif [ -f "$arg" ]; then
		src=$arg
		case "$(basename "$src")" in
		docker-mlist-*-"$host$ext") ;;
		*) die "$src is not a docker-mlist build for this machine ($host)" ;;
		esac
	else
		die "$arg: no such release directory or file"
	fi
	verify "$src"
elif [ -z "$src" ]; then
	cd "$(dirname "$0")"
	[ -f cmd/docker-mlist/main.go ] || die "not in a docker-mlist source tree; pass a release directory or file"
	go=$(command -v go || true)
	[ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
	[ -n "$go" ] || die "Go is not installed: install Go 1.26 or later, or pass a release directory (./install.sh dist/)"
	version=${VERSION:-$(git describe --tags --dirty 2>/dev/null || echo 0.0.0-dev)}
	commit=${COMMIT:-$(git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null || true)}
	src=bin/docker-mlist$ext
	echo "building $src ($version)"
	CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$go" build -trimpath \
		-ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
		-tags containers_image_openpgp -o "$src" ./cmd/docker-mlist
fi

dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
target=$dir/docker-mlist$ext
version=$(plugin_version "$src")
[ -n "$version" ] || die "$src does not run as a Docker CLI plugin on this machine; not installed"

if [ -f "$target" ] && cmp -s "$src" "$target"; then
	echo "docker-mlist $version is already installed at $target; nothing to do"
	exit 0
fi
old=
[ -f "$target" ] && old=$(plugin_version "$target" || true)
mkdir -p "$dir"
# Through a temporary name, so a running `docker mlist` never sees a
# half-written binary.
cp "$src" "$dir/.docker-mlist.tmp"
chmod 755 "$dir/.docker-mlist.tmp"
mv -f "$dir/.docker-mlist.tmp" "$target"
if [ -n "$old" ]; then
	echo "installed docker-mlist $version at $target (replacing $old)"
else
	echo "installed docker-mlist $version at $target"
fi

if command -v docker >/dev/null 2>&1; then
	if docker mlist version >/dev/null 2>&1; then
		echo "try: docker mlist --help"
	else
		echo "warning: docker does not run the plugin; check that $dir is the Docker CLI's config directory" >&2
	fi
else
	echo "note: the docker CLI is not in PATH; docker-mlist runs as 'docker mlist'" >&2
fi
