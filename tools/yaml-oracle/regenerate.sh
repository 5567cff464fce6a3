#!/usr/bin/env bash
# Records what Kubernetes' YAML reading makes of the oracle cases and of the carried schemas,
# into crates/kubelab-spec/tests/yaml_oracle/. Needs Debian's golang-go and
# golang-github-ghodss-yaml-dev (which brings gopkg.in/yaml.v2); run it after changing
# cases.txt or the files under schemas/, and commit what it writes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/crates/kubelab-spec/tests/yaml_oracle"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$here" && GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$bin/yaml-oracle" main.go)
"$bin/yaml-oracle" cases "$out/cases.txt" > "$out/cases.expected.json"
mapfile -t files < <(cd "$repo" && find schemas examples -type f \( -name '*.yaml' -o -name '*.json' \) | sort)
(cd "$repo" && "$bin/yaml-oracle" corpus . "${files[@]}") > "$out/corpus.expected.txt"
echo "wrote $out/cases.expected.json and $out/corpus.expected.txt"
