#!/usr/bin/env bash
# Cross-compiles static docker-mlist binaries for every platform the Docker
# CLI runs on into DIR (default dist/), named
# docker-mlist-VERSION-OS-ARCH[-VARIANT][.exe], and writes DIR/SHA256SUMS.
#
#   scripts/release.sh [--no-sums] [DIR]
#
# VERSION and COMMIT are stamped into the binaries (defaults from git);
# PLATFORMS (space or comma separated os/arch[/variant]) narrows the set.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false

sums=1
if [ "${1:-}" = "--no-sums" ]; then sums=0; shift; fi
dir=${1:-dist}

VERSION=${VERSION:-$(git describe --tags --dirty 2>/dev/null || echo 0.0.0-dev)}
COMMIT=${COMMIT:-$(git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null || true)}
all="linux/amd64 linux/arm64 linux/arm/v7 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"
platforms=${PLATFORMS:-$all}
platforms=${platforms//,/ }

case "$VERSION" in
*/* | *" "* | "") echo "release: invalid VERSION \"$VERSION\": no slashes or spaces" >&2; exit 1 ;;
esac

mkdir -p "$dir"
# Old builds of other versions must not end up in SHA256SUMS.
rm -f "$dir"/docker-mlist-* "$dir/SHA256SUMS"

files=()
for p in $platforms; do
	IFS=/ read -r goos goarch variant <<<"$p"
	goarm=
	case "$goarch/$variant" in
	arm/v6 | arm/v7) goarm=${variant#v} ;;
	*/) ;;
	*) echo "release: unsupported platform \"$p\"; supported: $all" >&2; exit 1 ;;
	esac
	name=docker-mlist-$VERSION-$goos-$goarch${variant:+-$variant}
	[ "$goos" = windows ] && name=$name.exe
	echo "release: $p -> $dir/$name"
	GOOS=$goos GOARCH=$goarch GOARM=$goarm go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
		-tags containers_image_openpgp -o "$dir/$name" ./cmd/docker-mlist
	files+=("$name")
done

if [ "$sums" = 1 ]; then
	if command -v sha256sum >/dev/null 2>&1; then
		(cd "$dir" && sha256sum "${files[@]}") >"$dir/SHA256SUMS"
	else
		(cd "$dir" && shasum -a 256 "${files[@]}") >"$dir/SHA256SUMS"
	fi
	echo "release: $dir/SHA256SUMS"
fi
