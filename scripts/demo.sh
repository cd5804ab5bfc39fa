#!/usr/bin/env bash
# Demo: a registry embedded in the project's tools/registry program on a free
# loopback port (no docker-registry package, no root), three tiny platform
# images, then docker mlist create / annotate / push / merge / copy / inspect,
# and what `docker pull --platform` gets where a Docker engine answers.
# Nothing outside a temporary directory is touched: the plugin runs from a
# temporary DOCKER_CONFIG.
#
#   make demo                          (installs the plugin first)
#   BINARY=path/to/docker-mlist scripts/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false

for tool in docker go; do
	command -v "$tool" >/dev/null 2>&1 || { echo "demo: $tool not found in PATH" >&2; exit 1; }
done
[ -f tools/registry/go.mod ] || { echo "demo: tools/registry (the embedded demo registry) is missing from this tree" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/docker-mlist-demo.XXXXXX")
registry_pid=
pulled=()
cleanup() {
	if [ ${#pulled[@]} -gt 0 ]; then
		docker rmi "${pulled[@]}" >/dev/null 2>&1 || true
	fi
	if [ -n "$registry_pid" ]; then
		kill "$registry_pid" 2>/dev/null || true
		wait "$registry_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

BINARY=${BINARY:-}
if [ -z "$BINARY" ]; then
	BINARY=$tmp/docker-mlist
	go build -trimpath -tags containers_image_openpgp -o "$BINARY" ./cmd/docker-mlist
fi
echo "demo: building the demo registry and the image maker"
go build -C tools/registry -trimpath -o "$tmp/mlist-registry" .
go build -trimpath -o "$tmp/mkimage" ./e2e/cmd/mkimage

mkdir -p "$tmp/config/cli-plugins"
ln -s "$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")" "$tmp/config/cli-plugins/docker-mlist"
echo '{}' >"$tmp/config/config.json"
# The engine (if any) keeps the host's context: a fresh DOCKER_CONFIG would
# otherwise mean the "default" context.
if [ -z "${DOCKER_HOST:-}" ]; then
	ctx=$(docker context show 2>/dev/null || true)
	if [ -n "$ctx" ] && [ "$ctx" != default ]; then
		DOCKER_HOST=$(docker context inspect --format '{{.Endpoints.docker.Host}}' "$ctx" 2>/dev/null || true)
		[ -n "$DOCKER_HOST" ] && export DOCKER_HOST
	fi
fi
export DOCKER_CONFIG=$tmp/config DOCKER_CLI_HINTS=false

# The registry picks a free port itself and says which on its first line.
"$tmp/mlist-registry" -impl distribution -addr 127.0.0.1:0 >"$tmp/registry.out" 2>"$tmp/registry.log" &
registry_pid=$!
url=
for _ in $(seq 200); do
	url=$(sed -n 's|^listening on http://||p' "$tmp/registry.out")
	[ -n "$url" ] && break
	kill -0 "$registry_pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$url" ] || { echo "demo: the registry did not start:" >&2; cat "$tmp/registry.out" "$tmp/registry.log" >&2; exit 1; }
reg=${url%%/*}

run() { printf '\n$ %s\n' "$*"; "$@"; }

echo "demo: registry at $reg"
run "$tmp/mkimage" --platform linux/amd64 "$reg/demo:amd64"
run "$tmp/mkimage" --platform linux/arm64 --oci "$reg/demo:arm64"
run "$tmp/mkimage" --platform linux/arm "$reg/demo:armv7"

run docker mlist create "$reg/demo:v1" "$reg/demo:amd64" "$reg/demo:arm64" "$reg/demo:armv7"
run docker mlist annotate --variant v7 "$reg/demo:v1" "$reg/demo:armv7"
run docker mlist push --purge "$reg/demo:v1"

echo
echo "# A later build adds riscv64 and rebuilds amd64; merge keeps arm64 and arm/v7."
run "$tmp/mkimage" --platform linux/amd64 --oci "$reg/demo:build-2-amd64"
run "$tmp/mkimage" --platform linux/riscv64 --oci "$reg/demo:build-2-riscv64"
run docker mlist create "$reg/demo:build-2" "$reg/demo:build-2-amd64" "$reg/demo:build-2-riscv64"
run docker mlist push --purge "$reg/demo:build-2"
run docker mlist merge --dry-run "$reg/demo:build-2" "$reg/demo:v1"
run docker mlist merge "$reg/demo:build-2" "$reg/demo:v1"

echo
echo "# Copy the merged list, with every image and blob, to another repository."
run docker mlist copy "$reg/demo:v1" "$reg/mirror/demo:v1"
run docker mlist inspect -v --format table "$reg/mirror/demo:v1"

echo
if ! engine=$(docker info --format '{{.ServerVersion}}' 2>/dev/null) || [ -z "$engine" ]; then
	echo "demo: no Docker engine answers here: skipping what 'docker pull --platform' gets"
	exit 0
fi
echo "# What 'docker pull --platform' gets from the copy (engine $engine)."
for p in linux/amd64 linux/arm64 linux/arm/v7 linux/riscv64; do
	printf '\n$ docker pull --platform %s %s\n' "$p" "$reg/mirror/demo:v1"
	if ! docker pull -q --platform "$p" "$reg/mirror/demo:v1" >/dev/null 2>"$tmp/pull.err"; then
		echo "demo: this engine cannot pull from $reg ($(tr '\n' ' ' <"$tmp/pull.err")); skipping the rest"
		exit 0
	fi
	pulled=("$reg/mirror/demo:v1")
	docker image inspect --format 'pulled {{.Os}}/{{.Architecture}}{{with index . "Variant"}}/{{.}}{{end}}, image {{.Id}}' "$reg/mirror/demo:v1"
	docker rmi "$reg/mirror/demo:v1" >/dev/null
	pulled=()
done
