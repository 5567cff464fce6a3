#!/usr/bin/env bash
# Runs one scenario of crates/kubelab-plan/tests/scenarios through a real kube-scheduler and
# prints what it did, for quoting in crates/kubelab-plan/tests/real_scheduler.rs.
#
#   tools/scheduler-oracle/record.sh NAME [SECONDS]
#
# Needs ../shared/tools/k8s-harness built (build.sh). Each scenario gets a fresh control plane
# (up.sh --fresh), the file is applied as is, preemption victims are force-deleted (there is
# no kubelet to finish them), and after SECONDS (default 20; past 60 the unschedulable queue
# has been flushed once, so messages describe the final cluster) it prints every pod's node and
# the last FailedScheduling message of each Pending pod. The harness is stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
name="$1"
seconds="${2:-20}"
harness="${HARNESS_DIR:-../shared/tools/k8s-harness}"
HARNESS_HOME="${HARNESS_HOME:-/tmp/kubelab-harness}"
file="crates/kubelab-plan/tests/scenarios/$name.yaml"
[ -f "$file" ] || { echo "record.sh: no $file" >&2; exit 2; }
k() { "$HARNESS_HOME/bin/kubectl" --kubeconfig "$HARNESS_HOME/state/kubeconfig" "$@"; }

"$harness/down.sh" --wipe >/dev/null 2>&1 || true
"$harness/up.sh" --fresh >/dev/null
trap '"$harness/down.sh" --wipe >/dev/null 2>&1 || true' EXIT
# The default namespace exists once the apiserver's bootstrap controller has run.
for _ in $(seq 1 60); do k get ns default >/dev/null 2>&1 && break; sleep 0.5; done
k apply -f "$file" >/dev/null

end=$((SECONDS + seconds))
while [ "$SECONDS" -lt "$end" ]; do
  # Victims stay Terminating without a kubelet; finish them as a kubelet would.
  k get pods -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{"\n"}{end}' |
    while read -r pod; do
      [ -n "$pod" ] && k delete pod "$pod" --grace-period=0 --force >/dev/null 2>&1 || true
    done
  sleep 1
done

echo "# $("$HARNESS_HOME/bin/kube-scheduler" --version 2>/dev/null), scenario $name, after ${seconds}s"
k get pods -o custom-columns='POD:.metadata.name,NODE:.spec.nodeName' --sort-by=.metadata.name
k get pvc -o custom-columns='CLAIM:.metadata.name,STATUS:.status.phase,VOLUME:.spec.volumeName' \
  --sort-by=.metadata.name 2>/dev/null || true
k get events --field-selector reason=Preempted -o custom-columns='PREEMPTED:.involvedObject.name,MESSAGE:.message' 2>/dev/null || true
# The scheduler's own log (up.sh runs it at --v=2) has every attempt; events of one pod
# are merged into a series by the events library, which can hide a later message.
echo "# last scheduling failure per Pending pod (kube-scheduler log)"
log="$HARNESS_HOME/state/logs/kube-scheduler.log"
k get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.nodeName}{"\n"}{end}' |
  while read -r pod node; do
    [ -z "$node" ] || continue
    msg=$(grep -F "pod=\"default/$pod\"" "$log" | grep -o 'err="[^"]*"' | tail -1)
    echo "$pod: $msg"
  done
