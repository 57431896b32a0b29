#!/usr/bin/env bash
# Builds the real node's binaries into the per-user cache: kubelet and kube-proxy (the control
# plane's Kubernetes version, from the module build-kube.sh prepared), containerd with its runc
# shim and ctr (from the Go module proxy), and the pause image's static binary. Versions come
# from dev/versions.env; a finished build is never redone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
command -v go >/dev/null || { echo "missing prerequisite: go (install Go >= 1.24)" >&2; exit 2; }
command -v gcc >/dev/null || { echo "missing prerequisite: gcc (apt-get install gcc libc6-dev)" >&2; exit 2; }

cache="${CONTINUUM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/continuum}"
bin="$cache/node-v${KUBE_VERSION}-containerd-v${CONTAINERD_VERSION}/bin"
wanted=(kubelet kube-proxy containerd containerd-shim-runc-v2 ctr pause)
missing=()
for b in "${wanted[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
((${#missing[@]})) || exit 0
mkdir -p "$bin"
export GOFLAGS=-mod=mod
work="$cache/gobuild"

if [[ ! -x "$bin/containerd" || ! -x "$bin/containerd-shim-runc-v2" || ! -x "$bin/ctr" ]]; then
  echo "building containerd v$CONTAINERD_VERSION (containerd, containerd-shim-runc-v2, ctr); the first build takes 3-8 min" >&2
  cmod="$work/containerd-$CONTAINERD_VERSION"
  mkdir -p "$cmod"
  (
    cd "$cmod"
    # `go install module@version` of containerd's commands refuses its replace directives; a
    # wrapper module that requires it builds them.
    [[ -f go.mod ]] || go mod init local/containerdbuild >/dev/null 2>&1
    printf 'package tools\nimport _ "github.com/containerd/containerd/v2/cmd/containerd"\n' > tools.go
    go get "github.com/containerd/containerd/v2@v$CONTAINERD_VERSION" >/dev/null 2>&1
    ld="-s -w -X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD_VERSION"
    CGO_ENABLED=0 go build -trimpath -tags "no_btrfs no_devmapper no_zfs" -ldflags "$ld" -o "$bin/" \
      github.com/containerd/containerd/v2/cmd/containerd \
      github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
      github.com/containerd/containerd/v2/cmd/ctr
  )
fi

if [[ ! -x "$bin/kubelet" || ! -x "$bin/kube-proxy" ]]; then
  kmod="$work/kube-$KUBE_VERSION"
  [[ -f "$kmod/.ready" ]] || { echo "the Kubernetes module is not prepared; run dev/build-kube.sh first" >&2; exit 2; }
  echo "building kubelet and kube-proxy v$KUBE_VERSION; the first build takes 3-10 min" >&2
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$kmod" && CGO_ENABLED=0 go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$bin/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
fi

if [[ ! -x "$bin/pause" ]]; then
  echo "building the pause binary" >&2
  src="$(cd "$work/kube-$KUBE_VERSION" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
  gcc -Os -static -DVERSION="v$KUBE_VERSION-continuum" -o "$bin/pause" "$src"
  strip "$bin/pause"
fi
echo "node binaries ready in $bin" >&2
