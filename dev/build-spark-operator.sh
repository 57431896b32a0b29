#!/usr/bin/env bash
# Builds the Kubeflow spark-operator (controller and webhook in one binary) from the Go module
# proxy into the per-user cache; `make images` stages it for Dockerfile.spark-operator. The version
# comes from dev/versions.env; a finished build is never redone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"
command -v go >/dev/null || { echo "missing prerequisite: go (install Go >= 1.24)" >&2; exit 2; }

cache="${CONTINUUM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/continuum}"
bin="$cache/spark-operator-v$SPARK_OPERATOR_VERSION/bin"
module=github.com/kubeflow/spark-operator/v2
[[ -x "$bin/spark-operator" ]] && exit 0
echo "building the spark-operator v$SPARK_OPERATOR_VERSION; the first build takes 3-8 min" >&2
work="$cache/gobuild/spark-operator-$SPARK_OPERATOR_VERSION"
mkdir -p "$work" "$bin"
(
  cd "$work"
  export GOFLAGS=-mod=mod
  # `go install module@version` fails on the module's deprecation lookup; a wrapper module
  # that requires it builds it.
  [[ -f go.mod ]] || go mod init local/sparkoperatorbuild >/dev/null 2>&1
  printf 'package tools\nimport _ "%s/cmd/operator"\n' "$module" > tools.go
  go get "$module@v$SPARK_OPERATOR_VERSION" >/dev/null 2>&1
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/spark-operator" "$module/cmd/operator"
)
echo "spark-operator v$SPARK_OPERATOR_VERSION ready in $bin" >&2
