//! etcd's health as the control planes' Talos APIs report it: a leader, every member
//! answering without errors, membership matching lab.yaml's control planes, and a quorum with
//! room to lose a member.
//!
//! - `etcd-no-leader`: the members that answer know no leader (etcd takes no writes).
//! - `etcd-member-unhealthy`: a control plane's member lists errors of its own, or the control
//!   plane (or its etcd) does not answer.
//! - `etcd-member-missing`: a lab control plane that is not a member, or a member that is no
//!   lab control plane.
//! - `etcd-quorum-at-risk`: with members down, the healthy ones are at most a quorum (one more
//!   failure stops etcd) or fewer (it has stopped).

use crate::finding::{Finding, Fix, Severity};
use crate::intent::Intent;
use crate::snapshot::Snapshot;
use crate::talos::{EtcdNodeStatus, TalosView};

pub(crate) fn check(intent: &Intent, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let Some(view) = &snapshot.talos else {
        return;
    };
    no_leader(intent, view, findings);
    unhealthy(intent, view, findings);
    missing(intent, view, findings);
    quorum(intent, view, findings);
}

/// A member is healthy when it answers and lists no errors of its own (a missing leader is
/// the cluster's fault, reported once by `etcd-no-leader`, not each member's).
fn is_healthy(status: &EtcdNodeStatus) -> bool {
    status
        .status
        .as_ref()
        .is_some_and(|s| s.own_errors().next().is_none())
}

fn no_leader(intent: &Intent, view: &TalosView, findings: &mut Vec<Finding>) {
    let answered: Vec<_> = view
        .etcd
        .statuses
        .iter()
        .filter_map(|s| Some((s, s.status.as_ref()?)))
        .collect();
    if answered.is_empty() || answered.iter().any(|(_, s)| s.leader != 0) {
        return;
    }
    let members = view
        .etcd
        .members
        .as_ref()
        .map_or(view.etcd.statuses.len(), Vec::len);
    let quorum = members / 2 + 1;
    let root_cause = if answered.len() < quorum {
        format!(
            "only {} of {members} members answer, and etcd elects a leader only when a quorum ({quorum}) of members can reach each other",
            answered.len()
        )
    } else {
        format!(
            "{} members answer but cannot agree on a leader: they do not reach each other on etcd's peer port (2380), or their clocks or disks stall the election",
            answered.len()
        )
    };
    let first = answered[0].0.node.as_str();
    findings.push(Finding {
        rule: "etcd-no-leader",
        severity: Severity::Error,
        subject: "etcd".to_string(),
        problem:
            "etcd has no leader: it takes no writes, so the Kubernetes API cannot change anything"
                .to_string(),
        evidence: answered
            .iter()
            .map(|(n, s)| format!("{}: leader 0 (raft term {})", n.node, s.raft_term))
            .collect(),
        root_cause: Some(root_cause),
        fixes: vec![Fix::command(
            format!("{} logs etcd", intent.talosctl(first)),
            "etcd's log says why the election does not finish",
        )],
    });
}

fn unhealthy(intent: &Intent, view: &TalosView, findings: &mut Vec<Finding>) {
    for status in &view.etcd.statuses {
        let talosctl = intent.talosctl(&status.node);
        let (evidence, root_cause, fixes) = match (&status.status, &status.error) {
            (Some(state), _) => {
                let own: Vec<String> = state.own_errors().cloned().collect();
                if own.is_empty() {
                    continue;
                }
                (
                    own.iter()
                        .map(|e| format!("etcd status of {}: {e}", status.node))
                        .collect(),
                    None,
                    vec![Fix::command(
                        format!("{talosctl} logs etcd"),
                        "etcd's log tells what the member reports",
                    )],
                )
            }
            (None, Some(error)) if !status.node_answered => (
                vec![format!("{}: {error}", status.node)],
                Some(format!(
                    "{}'s Talos API does not answer: the machine is off, rebooting or cut off from the network",
                    status.node
                )),
                vec![Fix::command(
                    format!("{talosctl} version"),
                    "answers once the machine is on and reachable; its etcd member rejoins by itself when it boots",
                )],
            ),
            (None, error) => (
                vec![format!(
                    "{}: Talos answers, etcd does not: {}",
                    status.node,
                    error.as_deref().unwrap_or("no status")
                )],
                Some(format!("etcd is not running on {}", status.node)),
                vec![
                    Fix::command(
                        format!("{talosctl} service etcd"),
                        "shows the etcd service's state and its last events",
                    ),
                    Fix::command(
                        format!("{talosctl} logs etcd"),
                        "etcd's log says why it stopped or does not start",
                    ),
                ],
            ),
        };
        findings.push(Finding {
            rule: "etcd-member-unhealthy",
            severity: Severity::Error,
            subject: format!("etcd member {}", status.node),
            problem: format!("the etcd member on {} is not healthy", status.node),
            evidence,
            root_cause,
            fixes,
        });
    }
}

fn missing(intent: &Intent, view: &TalosView, findings: &mut Vec<Finding>) {
    let Some(members) = &view.etcd.members else {
        return;
    };
    let lab_address = |node: &str| intent.node_addresses.get(node).cloned();
    // Hostname first (etcd names members after it); the peer URL's address when a node's
    // hostname differs from its lab name.
    let is_member_of = |node: &str, m: &crate::talos::EtcdMemberEntry| {
        m.hostname == node
            || lab_address(node)
                .is_some_and(|ip| m.peer_urls.iter().any(|u| u.contains(&format!("//{ip}:"))))
    };
    let listed_by = view
        .etcd
        .statuses
        .iter()
        .find(|s| s.status.is_some())
        .map_or_else(|| "a control plane".to_string(), |s| s.node.clone());
    for node in &intent.control_planes {
        if members.iter().any(|m| is_member_of(node, m)) {
            continue;
        }
        let talosctl = intent.talosctl(node);
        findings.push(Finding {
            rule: "etcd-member-missing",
            severity: Severity::Error,
            subject: format!("etcd member {node}"),
            problem: format!("control plane {node} is not an etcd member"),
            evidence: vec![format!(
                "etcd members as {listed_by} lists them: {}",
                members
                    .iter()
                    .map(|m| m.hostname.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            root_cause: Some(format!(
                "{node} has not joined etcd (Talos joins a control plane when it boots configured and reaches the other members), or it was removed and not added back"
            )),
            fixes: vec![
                Fix::command(
                    format!("{talosctl} service etcd"),
                    "shows whether etcd runs there and what it waits for",
                ),
                Fix::command(
                    format!("{talosctl} logs etcd"),
                    "etcd's log says why it does not join",
                ),
            ],
        });
    }
    for member in members {
        if intent
            .control_planes
            .iter()
            .any(|n| is_member_of(n, member))
        {
            continue;
        }
        let ask = intent
            .control_planes
            .iter()
            .next()
            .map_or_else(|| "talosctl".to_string(), |n| intent.talosctl(n));
        findings.push(Finding {
            rule: "etcd-member-missing",
            severity: Severity::Warning,
            subject: format!("etcd member {}", member.hostname),
            problem: format!(
                "etcd member {} ({:x}) is not a control plane of lab.yaml",
                member.hostname, member.id
            ),
            evidence: vec![format!(
                "member {:x} {} with peer URLs {}",
                member.id,
                member.hostname,
                member.peer_urls.join(", ")
            )],
            root_cause: Some(
                "a control plane left lab.yaml (or was replaced) without leaving etcd: the member still counts towards the quorum".to_string(),
            ),
            fixes: vec![Fix::command(
                format!("{ask} etcd remove-member {:x}", member.id),
                "removes the stale member so the quorum counts only the lab's control planes",
            )],
        });
    }
}

fn quorum(intent: &Intent, view: &TalosView, findings: &mut Vec<Finding>) {
    let statuses = &view.etcd.statuses;
    if statuses.is_empty() {
        return;
    }
    let members = view
        .etcd
        .members
        .as_ref()
        .map_or(statuses.len(), Vec::len)
        .max(statuses.len());
    let quorum = members / 2 + 1;
    let healthy = statuses.iter().filter(|s| is_healthy(s)).count();
    // A lab that chose fewer members than tolerate a failure is not reported while all of them
    // are healthy: that is its design (lab.yaml's checks speak about it), not a fault.
    if healthy == members || healthy > quorum {
        return;
    }
    let down: Vec<&str> = statuses
        .iter()
        .filter(|s| !is_healthy(s))
        .map(|s| s.node.as_str())
        .collect();
    let lost = healthy < quorum;
    let mut fixes: Vec<Fix> = down
        .iter()
        .map(|node| {
            Fix::command(
                format!("{} service etcd", intent.talosctl(node)),
                format!("bring {node}'s member back before anything else fails; etcd-member-unhealthy says why it is down"),
            )
        })
        .collect();
    if lost {
        fixes.push(Fix::command(
            "kubelab restore",
            "if the members cannot come back, restore etcd from the newest snapshot",
        ));
    }
    findings.push(Finding {
        rule: "etcd-quorum-at-risk",
        severity: if lost { Severity::Error } else { Severity::Warning },
        subject: "etcd".to_string(),
        problem: if lost {
            format!("etcd has lost its quorum: {healthy} of {members} members are healthy and it needs {quorum}")
        } else {
            format!("etcd is one failure away from losing its quorum: {healthy} of {members} members are healthy and it needs {quorum}")
        },
        evidence: vec![format!("not healthy: {}", down.join(", "))],
        root_cause: None,
        fixes,
    });
}
