//! The Talos side of a look at the lab: each node's Talos version as Talos reports it, and each
//! control plane's etcd member status, membership and alarms. Every node is asked at once and
//! every connection and call is bounded, so a node that is off costs one timeout, not one per
//! call, and the rest of the view is still gathered.

use std::net::SocketAddr;
use std::time::Duration;

use kubelab_talos_api::{
    ApplyMode, Client, Credentials, EtcdMember, EtcdMemberAlarm, EtcdMemberStatus,
};
use serde::{Deserialize, Serialize};

use crate::snapshot::Unseen;

/// One lab node to ask.
#[derive(Debug, Clone)]
pub struct TalosTarget {
    pub name: String,
    /// apid: the node's address, port 50000.
    pub address: SocketAddr,
    pub controlplane: bool,
    /// The config lab.yaml renders for the node, to compare with what it runs (Talos's own
    /// dry-run diff, as `kubelab diff --live`); `None`: not compared.
    pub config: Option<Vec<u8>>,
}

/// How to reach the lab's nodes: their apid addresses and the admin credentials.
#[derive(Clone)]
pub struct TalosAccess {
    pub nodes: Vec<TalosTarget>,
    pub credentials: Credentials,
    /// The bound on each connection and each call.
    pub timeout: Duration,
}

/// What Talos said, node by node. Serialized as part of the snapshot (`-o json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TalosView {
    /// Every lab node, in lab.yaml order.
    pub nodes: Vec<TalosNode>,
    pub etcd: EtcdView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TalosNode {
    pub name: String,
    pub controlplane: bool,
    pub address: String,
    /// The Talos version the node reports, e.g. `v1.14.7`; `None` when it did not answer.
    pub version: Option<String>,
    /// Why the node could not be asked (off, rebooting, refused the credentials).
    pub error: Option<String>,
    /// Its running config against the rendered one; `None` when not asked to compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigComparison>,
}

/// A node's running config against the one lab.yaml renders for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ConfigComparison {
    Same,
    /// Talos's diff of the running config against the rendered one.
    Differs {
        diff: String,
    },
    /// The dry run failed (a node on another Talos minor cannot read the new format, say).
    NotCompared {
        why: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdView {
    /// The membership as the first control plane that could list it lists it; `None` when
    /// none could.
    pub members: Option<Vec<EtcdMemberEntry>>,
    /// Each lab control plane's own member status, in lab.yaml order.
    pub statuses: Vec<EtcdNodeStatus>,
    /// The alarms raised in the cluster; `None` when no control plane could list them.
    pub alarms: Option<Vec<EtcdAlarm>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdMemberEntry {
    pub id: u64,
    /// etcd names each member after its node's hostname (Talos starts etcd with
    /// `--name=<hostname>`).
    pub hostname: String,
    pub peer_urls: Vec<String>,
    pub learner: bool,
}

/// One control plane's answer about its etcd member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdNodeStatus {
    pub node: String,
    pub status: Option<EtcdMemberState>,
    /// Why there is no status: the node or its etcd did not answer.
    pub error: Option<String>,
    /// Whether the node itself answered (its etcd may still not have).
    pub node_answered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdMemberState {
    pub member_id: u64,
    /// The member it follows; 0 when it knows no leader.
    pub leader: u64,
    pub db_size: i64,
    pub db_size_in_use: i64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub learner: bool,
    /// etcd's own list: a missing leader, the cluster's alarms, other trouble.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdAlarm {
    pub member_id: u64,
    /// `NOSPACE` or `CORRUPT`.
    pub alarm: String,
}

/// The error etcd's status lists when the member knows no leader.
pub(crate) const NO_LEADER_ERROR: &str = "etcdserver: no leader";

impl EtcdMemberState {
    /// The errors that are this member's own: etcd also lists the cluster's alarms and a
    /// missing leader here, which have findings of their own.
    pub(crate) fn own_errors(&self) -> impl Iterator<Item = &String> {
        self.errors
            .iter()
            .filter(|e| e.as_str() != NO_LEADER_ERROR && parse_alarm(e).is_none())
    }
}

/// An alarm as etcd's status lists it (the protobuf text `memberID:<id> alarm:<NAME> `).
pub(crate) fn parse_alarm(error: &str) -> Option<EtcdAlarm> {
    let mut member_id = None;
    let mut alarm = None;
    for field in error.split_whitespace() {
        if let Some(id) = field.strip_prefix("memberID:") {
            member_id = id.parse().ok();
        } else if let Some(name) = field.strip_prefix("alarm:") {
            alarm = Some(name.to_string());
        }
    }
    Some(EtcdAlarm {
        member_id: member_id?,
        alarm: alarm.filter(|a| a != "NONE")?,
    })
}

impl EtcdView {
    /// The alarms: as listed, or else as the members' statuses repeat them.
    pub fn alarms_seen(&self) -> Option<Vec<EtcdAlarm>> {
        if let Some(alarms) = &self.alarms {
            return Some(alarms.clone());
        }
        let mut from_status: Vec<EtcdAlarm> = self
            .statuses
            .iter()
            .filter_map(|s| s.status.as_ref())
            .flat_map(|s| s.errors.iter().filter_map(|e| parse_alarm(e)))
            .collect();
        if self.statuses.iter().all(|s| s.status.is_none()) {
            return None;
        }
        from_status.sort_by(|a, b| (a.member_id, &a.alarm).cmp(&(b.member_id, &b.alarm)));
        from_status.dedup();
        Some(from_status)
    }

    /// The lab node (or, failing that, the member's hostname) behind a member ID.
    pub fn member_name(&self, id: u64) -> Option<String> {
        self.statuses
            .iter()
            .find(|s| s.status.as_ref().is_some_and(|st| st.member_id == id))
            .map(|s| s.node.clone())
            .or_else(|| {
                self.members
                    .iter()
                    .flatten()
                    .find(|m| m.id == id)
                    .map(|m| m.hostname.clone())
            })
    }

    /// The leader's name, when the members that answered agree on one.
    pub fn leader(&self) -> Option<String> {
        let leader = self
            .statuses
            .iter()
            .filter_map(|s| s.status.as_ref())
            .map(|s| s.leader)
            .find(|l| *l != 0)?;
        Some(
            self.member_name(leader)
                .unwrap_or_else(|| format!("{leader:x}")),
        )
    }
}

impl TalosView {
    /// What the view lacks, for the "not seen" lines next to Kubernetes's.
    pub fn unseen(&self) -> Vec<Unseen> {
        let mut unseen = Vec::new();
        for node in &self.nodes {
            if let Some(error) = &node.error {
                unseen.push(Unseen {
                    kind: format!("Talos API of {}", node.name),
                    reason: error.clone(),
                });
            }
        }
        for node in &self.nodes {
            if let Some(ConfigComparison::NotCompared { why }) = &node.config {
                unseen.push(Unseen {
                    kind: format!("running config of {}", node.name),
                    reason: why.clone(),
                });
            }
        }
        for status in &self.etcd.statuses {
            if let (true, Some(error)) = (status.node_answered, &status.error) {
                unseen.push(Unseen {
                    kind: format!("etcd status of {}", status.node),
                    reason: error.clone(),
                });
            }
        }
        let any_control_plane = self.nodes.iter().any(|n| n.controlplane);
        if any_control_plane && self.etcd.members.is_none() {
            unseen.push(Unseen {
                kind: "etcd members".to_string(),
                reason: "no control plane could list them".to_string(),
            });
        }
        if any_control_plane && self.etcd.alarms.is_none() {
            unseen.push(Unseen {
                kind: "etcd alarms".to_string(),
                reason: "no control plane could list them".to_string(),
            });
        }
        unseen
    }

    /// Whether any node answered at all.
    pub fn answered(&self) -> bool {
        self.nodes.iter().any(|n| n.version.is_some())
    }
}

/// One node's answers.
struct NodeAnswers {
    version: Result<String, String>,
    /// Only when the node answered and a rendered config was given.
    config: Option<ConfigComparison>,
    /// Control planes only.
    etcd: Option<EtcdAnswers>,
    node_answered: bool,
}

/// A control plane's answers: its member's status, the membership, the alarms.
struct EtcdAnswers {
    status: Result<EtcdMemberStatus, String>,
    members: Result<Vec<EtcdMember>, String>,
    alarms: Result<Vec<EtcdMemberAlarm>, String>,
}

/// Asks every node at once; never fails: what could not be asked is recorded in the view.
pub async fn gather(access: &TalosAccess) -> TalosView {
    let answers = futures_util::future::join_all(access.nodes.iter().map(|n| ask(access, n))).await;
    let mut view = TalosView::default();
    for (node, answers) in access.nodes.iter().zip(answers) {
        let (version, error) = match answers.version {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        view.nodes.push(TalosNode {
            name: node.name.clone(),
            controlplane: node.controlplane,
            address: node.address.ip().to_string(),
            version,
            error: error.clone(),
            config: answers.config.clone(),
        });
        let Some(EtcdAnswers {
            status,
            members,
            alarms,
        }) = answers.etcd
        else {
            continue;
        };
        let (status, status_error) = match status {
            Ok(s) => (
                Some(EtcdMemberState {
                    member_id: s.member_id,
                    leader: s.leader,
                    db_size: s.db_size,
                    db_size_in_use: s.db_size_in_use,
                    raft_index: s.raft_index,
                    raft_term: s.raft_term,
                    learner: s.is_learner,
                    errors: s.errors,
                }),
                None,
            ),
            Err(e) => (None, Some(e)),
        };
        view.etcd.statuses.push(EtcdNodeStatus {
            node: node.name.clone(),
            status,
            error: status_error,
            node_answered: answers.node_answered,
        });
        if let (None, Ok(members)) = (&view.etcd.members, members) {
            view.etcd.members = Some(
                members
                    .into_iter()
                    .map(|m| EtcdMemberEntry {
                        id: m.id,
                        hostname: m.hostname,
                        peer_urls: m.peer_urls,
                        learner: m.is_learner,
                    })
                    .collect(),
            );
        }
        if let (None, Ok(alarms)) = (&view.etcd.alarms, alarms) {
            view.etcd.alarms = Some(
                alarms
                    .into_iter()
                    .map(|a| EtcdAlarm {
                        member_id: a.member_id,
                        alarm: a.alarm,
                    })
                    .collect(),
            );
        }
    }
    view
}

async fn ask(access: &TalosAccess, node: &TalosTarget) -> NodeAnswers {
    let unreachable = |error: String| NodeAnswers {
        version: Err(error.clone()),
        config: None,
        etcd: node.controlplane.then(|| EtcdAnswers {
            status: Err(error.clone()),
            members: Err(error.clone()),
            alarms: Err(error),
        }),
        node_answered: false,
    };
    let wait = access.timeout;
    let client = match tokio::time::timeout(
        wait,
        Client::connect(node.address, &access.credentials),
    )
    .await
    {
        Ok(Ok(client)) => client.with_timeout(wait),
        Ok(Err(error)) => return unreachable(causes(&error)),
        Err(_) => return unreachable(no_answer(node.address, wait)),
    };
    let version = async {
        within(wait, node.address, client.version(None))
            .await
            .map(|v| v.tag)
    };
    let config = async {
        let rendered = node.config.as_deref()?;
        let dry_run = client.apply_configuration(None, rendered, ApplyMode::NoReboot, true);
        Some(match within(wait, node.address, dry_run).await {
            Ok(outcome) => match outcome.config_diff() {
                None => ConfigComparison::Same,
                Some(diff) => ConfigComparison::Differs { diff },
            },
            Err(why) => ConfigComparison::NotCompared { why },
        })
    };
    if !node.controlplane {
        let (version, config) = tokio::join!(version, config);
        let node_answered = version.is_ok();
        return NodeAnswers {
            version,
            config: config.filter(|_| node_answered),
            etcd: None,
            node_answered,
        };
    }
    let status = within(wait, node.address, client.etcd_status(None));
    let members = within(wait, node.address, client.etcd_members(None));
    let alarms = within(wait, node.address, client.etcd_alarms(None));
    let (version, config, status, members, alarms) =
        tokio::join!(version, config, status, members, alarms);
    let node_answered = version.is_ok();
    NodeAnswers {
        version,
        config: config.filter(|_| node_answered),
        etcd: Some(EtcdAnswers {
            status,
            members,
            alarms,
        }),
        node_answered,
    }
}

/// The client's own deadline bounds each call; this one also bounds a reply that trickles.
async fn within<T>(
    wait: Duration,
    address: SocketAddr,
    call: impl std::future::Future<Output = kubelab_talos_api::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(wait, call).await {
        Ok(result) => result.map_err(|e| causes(&e)),
        Err(_) => Err(no_answer(address, wait)),
    }
}

fn no_answer(address: SocketAddr, wait: Duration) -> String {
    format!(
        "{} did not answer within {}s",
        address.ip(),
        wait.as_secs_f64()
    )
}

/// An error and its causes, each said once (transport errors often repeat their cause).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_are_read_back_from_etcds_status_text() {
        assert_eq!(
            parse_alarm("memberID:4096 alarm:NOSPACE "),
            Some(EtcdAlarm {
                member_id: 4096,
                alarm: "NOSPACE".to_string()
            })
        );
        assert_eq!(parse_alarm("memberID:4096 alarm:NONE "), None);
        assert_eq!(parse_alarm(NO_LEADER_ERROR), None);
    }
}
