//! Scenarios where kubelab once disagreed with a real kube-scheduler (issue 12). Each input in
//! `scenarios/` is applied as is to a real control plane by `tools/scheduler-oracle/record.sh`
//! (Kubernetes 1.20.2 from ../shared/tools/k8s-harness, the newest whose scheduler can be built
//! offline); what it printed is quoted in each test. Where 1.20 lacks a behaviour or words it
//! differently from 1.3x, the test says so and asserts the 1.3x behaviour, checked against the
//! scheduler source (pkg/scheduler/framework/plugins/...).

mod support;

use support::{index, message, placed_on, run};

/// kubelab's 1.34+ post-filter wording (DynamicResources adds its note).
const POST: &str = " no new claims to deallocate, preemption: ";

#[test]
fn no_provisioner_classes_only_bind_existing_volumes() {
    // Recorded with `tools/scheduler-oracle/record.sh no-provisioner 20` (v1.20.2):
    //   db-0 on a, claim data-db-0 Bound to disk-a; db-1 Pending, data-db-1 Pending:
    //   "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind."
    // disk-b-slow is on b but its labels miss the claim's selector; disk-a is taken by
    // db-0's claim; and kubernetes.io/no-provisioner creates nothing.
    let (c, o) = run(include_str!("scenarios/no-provisioner.yaml"));
    let placed: Vec<_> = ["db-0", "db-1"]
        .iter()
        .filter_map(|p| placed_on(&c, &o, p))
        .collect();
    assert_eq!(placed, ["a"], "{:?}", o.failures);
    let pending = if placed_on(&c, &o, "db-0").is_some() {
        "db-1"
    } else {
        "db-0"
    };
    assert_eq!(
        message(&c, &o, pending),
        format!("0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind.{POST}0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    );
}

#[test]
fn claims_that_cannot_bind_before_scheduling_fail_in_prefilter() {
    // Recorded with `tools/scheduler-oracle/record.sh unbound-immediate 20` (v1.20.2):
    //   claims: ghost Pending (volumeName does-not-exist), nothing-matches Pending, share Bound
    //   to nfs-b; hog on b.
    //   ghost-reader: "0/2 nodes are available: 2 pod has unbound immediate PersistentVolumeClaims."
    //   rwx-reader:   the same.
    //   share-reader: "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had volume node
    //                 affinity conflict."
    // 1.20 ran the PreFilter failure through every node ("2 pod has …"); 1.3x reports a
    // PreFilter rejection once for all nodes (VolumeBinding's PreFilter returns
    // UnschedulableAndUnresolvable "pod has unbound immediate PersistentVolumeClaims"), and
    // says so in the preemption part.
    let (c, o) = run(include_str!("scenarios/unbound-immediate.yaml"));
    let unbound = format!("0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.{POST}0/2 nodes are available: 2 Preemption is not helpful for scheduling.");
    assert_eq!(
        message(&c, &o, "ghost-reader"),
        unbound,
        "volumeName names no PV"
    );
    assert_eq!(
        message(&c, &o, "rwx-reader"),
        unbound,
        "no PV with the access mode, and class \"\" never provisions"
    );
    // The PV controller bound `share` to nfs-b before scheduling, ignoring node affinity; the
    // pod must follow the volume to b, where it does not fit.
    assert_eq!(
        message(&c, &o, "share-reader"),
        format!("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had volume node affinity conflict.{POST}0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.")
    );
}

#[test]
fn inter_pod_affinity_checks_the_pods_own_terms_first() {
    // Recorded with `tools/scheduler-oracle/record.sh affinity-order 20` (v1.20.2):
    //   api: two on a and b, the third Pending: "0/2 nodes are available: 2 node(s) didn't
    //        match pod affinity/anti-affinity, 2 node(s) didn't match pod anti-affinity rules."
    //   web: Pending: "0/2 nodes are available: 1 node(s) didn't match pod affinity rules,
    //        1 node(s) didn't match pod anti-affinity rules, 2 node(s) didn't match pod
    //        affinity/anti-affinity."
    // 1.20 adds the generic "didn't match pod affinity/anti-affinity" to every such node; 1.3x
    // reports only the specific reason. Both check the pod's required affinity
    // (UnschedulableAndUnresolvable), then its own required anti-affinity, then existing pods'
    // (both Unschedulable), and report the first failure (interpodaffinity Filter).
    let (c, o) = run(include_str!("scenarios/affinity-order.yaml"));
    let pending: Vec<_> = ["api-0", "api-1", "api-2"]
        .into_iter()
        .filter(|p| placed_on(&c, &o, p).is_none())
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        message(&c, &o, pending[0]),
        format!("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.{POST}0/2 nodes are available: 2 No preemption victims found for incoming pod.")
    );
    // On a, web fails its affinity (nothing with app=cache) before its anti-affinity: that
    // node is unresolvable, so preemption would not look at it.
    assert_eq!(
        message(&c, &o, "web"),
        "0/2 nodes are available: 1 node(s) didn't match pod affinity rules, 1 node(s) didn't match pod anti-affinity rules. no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
    );
}

#[test]
fn pending_pods_are_retried_against_the_final_cluster() {
    // Recorded with `tools/scheduler-oracle/record.sh final-state 100` (v1.20.2), after the
    // unschedulable queue's periodic flush (60 s in 1.20, 5 min in 1.3x):
    //   leader on c; follower on c (retried once leader was bound there); big Pending. The
    //   scheduler's log shows big's first attempt "0/3 nodes are available: 3 Insufficient
    //   cpu." and, after the flush, "0/3 nodes are available: 1 Insufficient memory,
    //   3 Insufficient cpu." (the events API merged both into one series showing the first).
    let (c, o) = run(include_str!("scenarios/final-state.yaml"));
    assert_eq!(placed_on(&c, &o, "leader"), Some("c"));
    assert_eq!(
        placed_on(&c, &o, "follower"),
        Some("c"),
        "{}",
        message(&c, &o, "follower")
    );
    assert_eq!(
        message(&c, &o, "big"),
        // 1.20 printed no preemption part. 1.3x: 2 cpu is more than any node has at all, an
        // unresolvable shortfall (noderesources fit.go), so preemption helps nowhere.
        format!("0/3 nodes are available: 1 Insufficient memory, 3 Insufficient cpu.{POST}0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
    );
}

#[test]
fn bare_pods_evicted_by_preemption_are_gone() {
    // Recorded with `tools/scheduler-oracle/record.sh bare-victim 20` (v1.20.2; the script
    // force-deletes victims, as there is no kubelet to finish them):
    //   event on bare: "Preempted by default/urgent-79d454b4db-4qk7p on node a"
    //   pods afterwards: only urgent-79d454b4db-4qk7p, on a; bare is gone for good.
    let (c, o) = run(include_str!("scenarios/bare-victim.yaml"));
    let urgent = c
        .pods
        .iter()
        .position(|p| p.name.starts_with("urgent"))
        .unwrap();
    assert_eq!(o.placement[urgent], Some(0));
    let bare = index(&c, "bare");
    assert_eq!(o.placement[bare], None);
    assert!(
        !o.failures.contains_key(&bare),
        "a deleted pod is not Pending: {:?}",
        o.failures.get(&bare)
    );
    assert_eq!(o.deleted, [bare]);
}
