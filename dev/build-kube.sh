#!/usr/bin/env bash
# Builds the Kubernetes control plane, kubectl, etcd and kwok from their official Go modules into
# the per-user cache. Versions come from dev/versions.env; a finished build is never redone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
command -v go >/dev/null || { echo "missing prerequisite: go (install Go >= 1.24, e.g. apt-get install golang)" >&2; exit 2; }

cache="${CONTINUUM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/continuum}"
bin="$cache/kube-v${KUBE_VERSION}-etcd-v${ETCD_VERSION}-kwok-v${KWOK_VERSION}/bin"
if [[ -x "$bin/kube-apiserver" && -x "$bin/kubectl" && -x "$bin/etcd" && -x "$bin/kwok" && -x "$bin/kwokctl" ]]; then
  exit 0
fi
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
work="$cache/gobuild"
mkdir -p "$work"

echo "building kubernetes v$KUBE_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); the first build takes 10-25 min" >&2
kmod="$work/kube-$KUBE_VERSION"
if [[ ! -f "$kmod/.ready" ]]; then
  rm -rf "$kmod"; mkdir -p "$kmod"
  (
    cd "$kmod"
    go mod init local/kubebuild >/dev/null 2>&1
    gomod="$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')"
    staging="$(grep -oE '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}' | sed 's#k8s.io/##')"
    for m in $staging; do go mod edit -replace="k8s.io/$m=k8s.io/$m@v0.${KUBE_VERSION#1.}"; done
    go mod edit -require="k8s.io/kubernetes@v$KUBE_VERSION"
    printf 'package tools\nimport (\n_ "k8s.io/kubernetes/cmd/kube-apiserver"\n_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n_ "k8s.io/kubernetes/cmd/kube-scheduler"\n_ "k8s.io/kubectl/pkg/cmd"\n)\n' > tools.go
    go mod tidy >/dev/null 2>&1 || go mod download
  )
  touch "$kmod/.ready"
fi
minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
(cd "$kmod" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)

echo "building etcd v$ETCD_VERSION" >&2
emod="$work/etcd-$ETCD_VERSION"
mkdir -p "$emod"
(
  cd "$emod"
  [[ -f go.mod ]] || go mod init local/etcdbuild >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@v$ETCD_VERSION" >/dev/null 2>&1
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
  go build -trimpath -ldflags "-s -w" -o "$bin/etcdctl" go.etcd.io/etcd/etcdctl/v3
)

echo "building kwok v$KWOK_VERSION" >&2
GOBIN="$bin" go install "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
echo "kubernetes binaries ready in $bin" >&2
