#!/usr/bin/env bash
# Builds the Dockerfile and runs the images on a machine with no Docker engine: Debian's buildah
# (chroot isolation, vfs storage) over a python:3.11-slim made here from Debian's packages with
# debootstrap. Builds both extras sets (the Dockerfile's defaults, and the Google Cloud set that
# deploy/cloudbuild.yaml builds), checks /health/ready of the embedded image's `serve` and runs
# `ingestion-pipeline demo` in it, and imports the Google Cloud adapters in the gcp image.
# Needs root. Not part of `make test`: `make image-smoke` (2-3 minutes on 2 cores with a fast
# package index, the first run's debootstrap included).
#
#   deploy/image-smoke.sh          build and run (the base is made once and kept in $IMAGE_SMOKE_DIR)
#   deploy/image-smoke.sh pin      rewrite constraints.txt from .venv (the versions tests pass with)
#   deploy/image-smoke.sh clean    remove $IMAGE_SMOKE_DIR: the base, the store and the images
#
# IMAGE_SMOKE_DIR (default /var/tmp/ingestion-image-smoke) keeps the store; DEBIAN_MIRROR overrides
# the mirror read from /etc/apt/sources.list*; the machine's CA bundle goes into the base so that
# pip inside the build reaches the package index however this machine reaches it.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${IMAGE_SMOKE_DIR:-/var/tmp/ingestion-image-smoke}
SUITE=bookworm
BASE_TAG=docker.io/library/python:3.11-slim # the Dockerfile's FROM python:${PYTHON_VERSION}-slim
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export BUILDAH_ISOLATION=chroot
bah() { buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs "$@"; }
say() { printf '[image-smoke %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { say "FAIL: $*" >&2; exit 1; }

pin() {
    # The closure of the image's extras (both sets) in .venv, evaluated for this platform.
    local extras=whisper,gcp
    {
        echo "# The image's dependencies, pinned to the versions the tests pass with (.venv)."
        echo "# The Dockerfile installs with -c constraints.txt. Regenerate: deploy/image-smoke.sh pin"
        echo "pip==$(.venv/bin/python -m pip --version | cut -d' ' -f2)"
        .venv/bin/python - "$extras" <<'PY'
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
roots = [Requirement(r) for r in project["dependencies"]]
for extra in sys.argv[1].split(","):
    roots += [Requirement(r) for r in project["optional-dependencies"][extra]]
seen: dict[str, set[str]] = {}
todo = [(r, "") for r in roots]
while todo:
    req, parent_extra = todo.pop()
    if req.marker and not req.marker.evaluate({"extra": parent_extra}):
        continue
    name = canonicalize_name(req.name)
    done = seen.setdefault(name, set())
    new = ({""} | set(req.extras)) - done
    if not new:
        continue
    done |= new
    for text in metadata.distribution(name).requires or []:
        todo += [(Requirement(text), extra) for extra in new]
for name in sorted(seen):
    print(f"{name}=={metadata.version(name)}")
PY
    } > constraints.txt.new
    mv constraints.txt.new constraints.txt
    say "constraints.txt: $(grep -c '==' constraints.txt) pins"
}

need_tools() {
    [ "$(id -u)" = 0 ] || die "needs root (buildah's chroot isolation and debootstrap)"
    if ! command -v buildah > /dev/null || ! command -v debootstrap > /dev/null; then
        say "installing buildah and debootstrap from Debian"
        apt-get update -q > /dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q buildah debootstrap > /dev/null
    fi
    [ -r "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE"
}

debian_mirror() {
    # The first bookworm mirror this machine's apt uses (deb822 or one-line sources).
    [ -n "${DEBIAN_MIRROR:-}" ] && { echo "$DEBIAN_MIRROR"; return; }
    local f uri=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u {print u; exit}' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2> /dev/null || true)
    [ -n "$uri" ] || die "no bookworm mirror in /etc/apt/sources.list*; set DEBIAN_MIRROR"
    echo "$uri"
}

make_base() {
    if bah inspect --type image "$BASE_TAG" > /dev/null 2>&1; then
        say "base $BASE_TAG: already in $WORK/storage"
        return
    fi
    local mirror rootfs=$WORK/rootfs ctr start=$SECONDS
    mirror=$(debian_mirror)
    say "base: debootstrap $SUITE from $mirror"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
        "$SUITE" "$rootfs" "$mirror" > "$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap (log: $WORK/debootstrap.log)"; }
    # pip in the build must trust what this machine trusts (the CA bundle the index is reached with).
    install -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ntimeout = 180\n' > "$rootfs/etc/pip.conf"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    chroot "$rootfs" python --version | grep -q '^Python 3\.11\.' || die "the base's python is not 3.11"
    tar -C "$rootfs" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$WORK/rootfs.tar" .
    ctr=$(bah from scratch)
    CONTAINERS+=("$ctr")
    bah add "$ctr" "$WORK/rootfs.tar" / > /dev/null
    bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd python3 "$ctr"
    bah commit --quiet --rm --format docker "$ctr" "$BASE_TAG" > /dev/null
    rm -rf "$rootfs" "$WORK/rootfs.tar"
    say "base $BASE_TAG ($(base_python_version)): $((SECONDS - start)) s"
}

base_python_version() {
    local ctr v
    ctr=$(bah from --pull=never "$BASE_TAG")
    v=$(bah run "$ctr" -- python --version)
    bah rm "$ctr" > /dev/null
    echo "$v"
}

build() { # tag, then build args
    local tag=$1 start=$SECONDS
    shift
    say "build $tag ${*:-(the Dockerfile defaults)}"
    bah build --isolation chroot --format docker --pull=never --layers=false "$@" \
        -f Dockerfile -t "$tag" . > "$WORK/build-${tag##*:}.log" 2>&1 \
        || { tail -30 "$WORK/build-${tag##*:}.log" >&2; die "build $tag (log: $WORK/build-${tag##*:}.log)"; }
    say "built $tag: $((SECONDS - start)) s, $(bah images --format '{{.Size}}' "$tag")"
}

CONTAINERS=()
cleanup() {
    local c
    for c in "${CONTAINERS[@]}"; do bah rm "$c" > /dev/null 2>&1 || true; done
}

new_container() { # CTR: a fresh working container of an image, removed on exit
    CTR=$(bah from --pull=never "$1")
    CONTAINERS+=("$CTR")
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

check_serve() { # the image's own command, serve; /health/ready polled from inside; then SIGTERM
    local ctr port start=$SECONDS
    new_container "$1"
    ctr=$CTR
    port=$(free_port)
    say "run $1: ingestion-pipeline serve on port $port, GET /health/ready"
    # shellcheck disable=SC2016 # $pid, $PORT and $? belong to the container's shell
    bah run --env PORT="$port" "$ctr" -- sh -c '
        ingestion-pipeline serve & pid=$!
        python - <<PY
import json, sys, time, urllib.request
url = "http://127.0.0.1:$PORT/health/ready"
deadline = time.monotonic() + 120
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            print("GET /health/ready:", r.status, json.dumps(json.load(r)))
            sys.exit(0 if r.status == 200 else 1)
    except Exception as exc:
        if time.monotonic() > deadline:
            print("GET /health/ready: no answer in 120 s:", exc)
            sys.exit(1)
        time.sleep(0.5)
PY
        ready=$?
        kill -TERM $pid; wait $pid; echo "serve exited $? on SIGTERM"
        exit $ready' || die "$1: /health/ready"
    say "serve checked: $((SECONDS - start)) s"
}

check_demo() {
    local ctr start=$SECONDS out=$WORK/demo.out
    new_container "$1"
    ctr=$CTR
    say "run $1: ingestion-pipeline demo"
    bah run "$ctr" -- ingestion-pipeline demo | tee "$out" || die "$1: the demo failed"
    grep -q '(6/6)' "$out" || die "$1: the demo did not finish 6 calls"
    say "demo: 6/6 COMPLETED, $((SECONDS - start)) s"
}

check_gcp() { # the Google Cloud adapters import with only the gcp extras; faster-whisper is absent
    local ctr
    new_container "$1"
    ctr=$CTR
    say "run $1: import the Google Cloud adapters"
    bah run "$ctr" -- python -c '
import importlib, importlib.util
mods = ["adapters.spanner", "adapters.gcs", "adapters.pubsub", "adapters.pubsub.oidc",
        "adapters.googlespeech", "adapters.vertex", "adapters.secretmanager", "adapters.otel",
        "entrypoints.container", "entrypoints.cli"]
for m in mods:
    importlib.import_module(m)
assert importlib.util.find_spec("faster_whisper") is None, "faster-whisper in the gcp image"
print("imported:", ", ".join(mods), "- faster-whisper absent")' || die "$1: imports"
    bah run "$ctr" -- ingestion-pipeline --help > /dev/null || die "$1: ingestion-pipeline --help"
}

main() {
    need_tools
    mkdir -p "$WORK"
    trap cleanup EXIT
    local start=$SECONDS gcp_extras gcp_model
    # The Google Cloud set is what deploy/cloudbuild.yaml builds by default.
    gcp_extras=$(sed -n 's/^  _EXTRAS: *//p' deploy/cloudbuild.yaml)
    gcp_model=$(sed -n 's/^  _BUNDLED_MODEL: *"\{0,1\}\([a-z]*\)"\{0,1\}$/\1/p' deploy/cloudbuild.yaml)
    if [ -z "$gcp_extras" ] || [ -z "$gcp_model" ]; then
        die "no _EXTRAS/_BUNDLED_MODEL in deploy/cloudbuild.yaml"
    fi
    say "buildah $(buildah --version | cut -d' ' -f3), store $WORK (vfs)"
    make_base
    build ingestion-pipeline:embedded
    build ingestion-pipeline:gcp --build-arg "EXTRAS=$gcp_extras" --build-arg "BUNDLED_MODEL=$gcp_model"
    bah rmi --prune > /dev/null # the previous run's images, untagged by these builds
    check_serve ingestion-pipeline:embedded
    check_demo ingestion-pipeline:embedded
    check_gcp ingestion-pipeline:gcp
    say "OK: both images built; embedded serves and runs the demo 6/6; $((SECONDS - start)) s in all"
}

case "${1:-}" in
    "") main ;;
    pin) pin ;;
    clean) rm -rf "$WORK" && say "removed $WORK" ;;
    *) echo "usage: $0 [pin|clean]" >&2; exit 2 ;;
esac
