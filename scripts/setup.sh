#!/usr/bin/env bash
# Installs the Debian packages the e2e tests need, when one is missing:
# docker-registry (CNCF distribution), docker-credential-pass, pass, gnupg,
# htpasswd, make, skopeo (benchmark comparison), and the docker CLI. Nothing
# is installed when everything is present. `make check` runs it.
set -euo pipefail

# package:command pairs
needs=(
	docker-registry:docker-registry
	golang-docker-credential-helpers:docker-credential-pass
	pass:pass
	gnupg:gpg
	gnupg:gpg-agent
	apache2-utils:htpasswd
	make:make
	skopeo:skopeo
	docker.io:docker
)

missing=()
for pair in "${needs[@]}"; do
	pkg=${pair%%:*} cmd=${pair#*:}
	if ! command -v "$cmd" >/dev/null 2>&1; then
		case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all test dependencies are installed"
	exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "setup: missing ${missing[*]}: need root (or sudo) to install them" >&2; exit 1; }
	sudo=sudo
fi
command -v apt-get >/dev/null 2>&1 || { echo "setup: missing ${missing[*]}: install them with your package manager (apt-get not found)" >&2; exit 1; }
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
