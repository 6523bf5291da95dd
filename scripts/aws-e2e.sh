#!/usr/bin/env bash
# The real-AWS end-to-end check (.github/workflows/aws-e2e.yml runs it weekly and on demand):
# deploy the stack, a 2-worker run against a target URL, `runs` and `stop` of a second run, then
# `stack destroy`, and check that no task, SSM parameter, stack or object of the runs is left.
# It records in its log what AWS answered where loadgate's code had to assume (issue 12): the S3
# answer to a worker reading a protocol file not written yet (403 or 404, from the workers' log
# lines), a registry redirect of a blob HEAD during the image push, and, with a history bucket in
# another region, the S3 redirect naming that region.
#
#   scripts/aws-e2e.sh [--dry-run]
#
# Environment: LOADGATE_E2E_TARGET_URL (required: a URL the workers may load, gently),
# AWS_REGION (or AWS_DEFAULT_REGION), LOADGATE_E2E_STACK (default loadgate-e2e),
# LOADGATE_E2E_HISTORY_BUCKET (optional: a bucket in another region, for the redirect check),
# LOADGATE_BIN (default target/x86_64-unknown-linux-musl/release/loadgate: the run pushes the
# binary itself as the worker image, so it must be the static Linux build). Credentials: the
# standard AWS chain (OIDC in the workflow). The role needs the policies `--dry-run` prints.
#
# --dry-run prints the steps and those policies without calling AWS (the CI tests it).
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=false
case "${1:-}" in
  --dry-run) dry_run=true ;;
  "") ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

stack="${LOADGATE_E2E_STACK:-loadgate-e2e}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
target_url="${LOADGATE_E2E_TARGET_URL:-}"
history_bucket="${LOADGATE_E2E_HISTORY_BUCKET:-}"
bin="${LOADGATE_BIN:-target/x86_64-unknown-linux-musl/release/loadgate}"
account="${LOADGATE_E2E_ACCOUNT:-}"

if [ -z "$target_url" ] || [ -z "$region" ]; then
  echo "aws-e2e: set LOADGATE_E2E_TARGET_URL and AWS_REGION" >&2
  exit 2
fi
if [ ! -x "$bin" ]; then
  echo "aws-e2e: no loadgate binary at $bin (scripts/build-static.sh builds it; or set LOADGATE_BIN)" >&2
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
scenario="$work/e2e.yaml"
long="$work/e2e-long.yaml"
cat >"$scenario" <<EOF
name: aws-e2e
target: "$target_url"
load: { concurrency: 2, hold_for: 20s }
workers: 2
requests:
  - { name: home, path: / }
thresholds:
  - error_rate < 50%
fargate: { cpu: 256, memory: 512, max_cost_usd: 1 }
EOF
sed -e 's/hold_for: 20s/hold_for: 10m/' -e 's/name: aws-e2e/name: aws-e2e-stopped/' "$scenario" >"$long"

step() { echo "==> $*"; }

# The policies the role running this script needs: the two loadgate publishes, and the reads
# of the checks below.
print_policies() {
  local scope=(--stack-name "$stack" --region "$region")
  [ -n "$account" ] && scope+=(--account "$account")
  echo "--- policy: deploy (loadgate stack policy --deploy) ---"
  "$bin" stack policy --deploy "${scope[@]}" 2>/dev/null
  echo "--- policy: run (loadgate stack policy --run) ---"
  "$bin" stack policy --run "${scope[@]}"
  echo "--- policy: checks (this script's own reads) ---"
  local acct="${account:-*}"
  cat <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "LeftoverSecrets",
      "Effect": "Allow",
      "Action": ["ssm:GetParametersByPath"],
      "Resource": ["arn:aws:ssm:$region:$acct:parameter/loadgate/$stack/runs"]
    },
    {
      "Sid": "WorkerLogs",
      "Effect": "Allow",
      "Action": ["logs:FilterLogEvents"],
      "Resource": ["arn:aws:logs:$region:$acct:log-group:/loadgate/$stack:*"]
    }
  ]
}
EOF
  echo "--- end of policies ---"
}

steps=(
  "deploy: $bin stack deploy --stack-name $stack"
  "run: $bin run e2e.yaml --executor fargate --workers 2 --stack-name $stack${history_bucket:+ --history s3://$history_bucket}"
  "second run in the background: $bin run e2e-long.yaml --executor fargate --workers 2"
  "runs: $bin runs --stack-name $stack (until it lists the second run)"
  "stop: $bin stop RUN_ID --stack-name $stack (the second run)"
  "record: the workers' answers to a protocol file not written yet (CloudWatch Logs /loadgate/$stack)"
  "check: no task of the stack's cluster is running"
  "check: no SSM parameter is left under /loadgate/$stack/runs"
  "destroy: $bin stack destroy --yes --stack-name $stack"
  "check: the stack is gone, with its bucket (so no object of the runs is left)"
)

if $dry_run; then
  echo "aws-e2e dry run: stack $stack in $region, target $target_url"
  i=1
  for s in "${steps[@]}"; do
    echo "step $i: $s"
    i=$((i + 1))
  done
  print_policies
  exit 0
fi

lg() { "$bin" "$@" --stack-name "$stack" --region "$region"; }
output() {
  aws cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

step "${steps[0]}"
lg stack deploy

step "${steps[1]}"
run_log="$work/run.log"
history_args=()
[ -n "$history_bucket" ] && history_args=(--history "s3://$history_bucket")
lg run "$scenario" --executor fargate --workers 2 --baseline none --no-comment \
  --out "$work/report" "${history_args[@]}" 2>&1 | tee "$run_log"
grep -E "answered HEAD with|history bucket is in" "$run_log" \
  | sed 's/^/aws-e2e: AWS answered: /' || echo "aws-e2e: AWS answered: no registry or S3 redirect in this run"

step "${steps[2]}"
second_log="$work/second.log"
lg run "$long" --executor fargate --workers 2 --baseline none --no-comment \
  --out "$work/report-2" >"$second_log" 2>&1 &
second=$!

step "${steps[3]}"
run_id=""
for _ in $(seq 1 60); do
  run_id="$(lg runs | awk '/task\(s\)/ { print $1; exit }')" || true
  [ -n "$run_id" ] && break
  sleep 5
done
[ -n "$run_id" ] || { cat "$second_log"; echo "aws-e2e: the second run never showed in \`loadgate runs\`" >&2; exit 1; }
lg runs

step "${steps[4]} ($run_id)"
lg stop "$run_id"
set +e
wait "$second"
echo "aws-e2e: the stopped run's controller exited with $?"
set -e
tail -n 20 "$second_log"

step "${steps[5]}"
aws logs filter-log-events --region "$region" --log-group-name "/loadgate/$stack" \
  --filter-pattern '"s3 answered a protocol file not written yet"' \
  --query 'events[].message' --output text | sed 's/^/aws-e2e: AWS answered: /' || true

cluster="$(output ClusterName)"
step "${steps[6]}"
left="$(aws ecs list-tasks --region "$region" --cluster "$cluster" --desired-status RUNNING \
  --query 'length(taskArns)' --output text)"
[ "$left" = 0 ] || { echo "aws-e2e: $left task(s) still running in $cluster" >&2; exit 1; }

step "${steps[7]}"
params="$(aws ssm get-parameters-by-path --region "$region" --path "/loadgate/$stack/runs" \
  --recursive --query 'length(Parameters)' --output text)"
[ "$params" = 0 ] || { echo "aws-e2e: $params SSM parameter(s) left" >&2; exit 1; }

bucket="$(output BucketName)"
step "${steps[8]}"
lg stack destroy --yes

step "${steps[9]}"
if aws cloudformation describe-stacks --region "$region" --stack-name "$stack" >/dev/null 2>&1; then
  echo "aws-e2e: stack $stack still exists" >&2
  exit 1
fi
if aws s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  echo "aws-e2e: bucket $bucket (the runs' objects) still exists" >&2
  exit 1
fi
echo "aws-e2e: ok"
