#!/usr/bin/env bash
# Demo: a throwaway registry on a free loopback port, three tiny platform
# images, then docker mlist create / annotate / push / inspect. Nothing
# outside a temporary directory is touched: the plugin runs from a temporary
# DOCKER_CONFIG.
#
#   make demo                          (builds bin/docker-mlist first)
#   BINARY=path/to/docker-mlist scripts/demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

for tool in docker docker-registry go; do
	command -v "$tool" >/dev/null 2>&1 || { echo "demo: $tool not found (make setup)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/docker-mlist-demo.XXXXXX")
registry_pid=
cleanup() {
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
go build -o "$tmp/mkimage" ./e2e/cmd/mkimage

mkdir -p "$tmp/config/cli-plugins" "$tmp/storage"
ln -s "$(realpath "$BINARY")" "$tmp/config/cli-plugins/docker-mlist"
echo '{}' >"$tmp/config/config.json"
export DOCKER_CONFIG=$tmp/config DOCKER_CLI_HINTS=false

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 30000))
	if port_free "$p"; then port=$p; break; fi
done
[ -n "$port" ] || { echo "demo: no free port" >&2; exit 1; }

cat >"$tmp/registry.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/storage
http:
  addr: 127.0.0.1:$port
  secret: docker-mlist-demo
YAML
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
	port_free "$port" || break
	sleep 0.1
done
port_free "$port" && { echo "demo: registry did not start:" >&2; cat "$tmp/registry.log" >&2; exit 1; }

reg=127.0.0.1:$port
run() { printf '\n$ %s\n' "$*"; "$@"; }

echo "registry: $reg (storage in $tmp)"
run "$tmp/mkimage" --platform linux/amd64 "$reg/demo:amd64"
run "$tmp/mkimage" --platform linux/arm64 --oci "$reg/demo:arm64"
run "$tmp/mkimage" --platform linux/arm "$reg/demo:armv7"

run docker mlist create "$reg/demo:v1" "$reg/demo:amd64" "$reg/demo:arm64" "$reg/demo:armv7"
run docker mlist annotate --variant v7 "$reg/demo:v1" "$reg/demo:armv7"
run docker mlist push "$reg/demo:v1"
run docker mlist inspect "$reg/demo:v1"
