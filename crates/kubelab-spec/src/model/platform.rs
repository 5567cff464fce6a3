//! What runs on the cluster: security baseline, monitoring, backups, GitOps.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::Cidr;
use crate::quantity::Quantity;

/// Pod Security Standards level.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    Privileged,
    Baseline,
    #[default]
    Restricted,
}

impl PodSecurityLevel {
    /// The value Pod Security Admission labels use.
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityLevel::Privileged => "privileged",
            PodSecurityLevel::Baseline => "baseline",
            PodSecurityLevel::Restricted => "restricted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Security {
    /// Pod Security level enforced in app namespaces.
    #[serde(default)]
    pub pod_security: PodSecurityLevel,
    /// Deny all ingress and egress in app namespaces unless allowed below.
    #[serde(default = "default_true")]
    pub default_deny: bool,
    /// Namespaces for applications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<AppNamespace>,
    /// Least-privilege access for automation (e.g. a CI runner).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rbac: Vec<RbacSubject>,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            pod_security: PodSecurityLevel::Restricted,
            default_deny: true,
            namespaces: Vec::new(),
            rbac: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppNamespace {
    pub name: String,
    /// Overrides the lab-wide Pod Security level for this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurityLevel>,
    /// Traffic allowed despite default-deny.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<AllowRule>,
}

/// One allowed flow into (`from`) or out of (`to`) the selected pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowRule {
    /// Policy name.
    pub name: String,
    /// Pods the rule applies to (labels); empty means every pod in the namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pods: BTreeMap<String, String>,
    /// Allowed sources (ingress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Peer>,
    /// Allowed destinations (egress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Peer>,
    /// Ports, such as `8080` or `53/UDP`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
}

/// Parses a port as written in an allow rule: `8080`, `53/UDP`; port 1–65535 and TCP, UDP or
/// SCTP (TCP when omitted).
pub fn parse_port(text: &str) -> Option<(u16, &str)> {
    let (port, protocol) = text.split_once('/').unwrap_or((text, "TCP"));
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    matches!(protocol, "TCP" | "UDP" | "SCTP").then_some((port, protocol))
}

/// A traffic peer: any combination of the fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Peer {
    /// Anything outside the cluster (including LoadBalancer traffic).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub world: bool,
    /// Pods in these namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Pods with these labels (in the rule's namespace unless `namespaces` is set).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pods: BTreeMap<String, String>,
    /// Addresses outside the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<Cidr>,
}

/// An identity that gets a namespaced Role and RoleBinding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RbacSubject {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub kind: SubjectKind,
    pub rules: Vec<PolicyRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum SubjectKind {
    #[default]
    ServiceAccount,
    User,
    Group,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRule {
    /// API groups; `""` is the core group.
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Monitoring {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How long Prometheus keeps metrics: a Prometheus duration such as `15d` or `4w` (units
    /// y, w, d, h, m, s, ms, largest first).
    #[serde(default = "default_retention")]
    pub retention: String,
    /// Prometheus volume size.
    #[serde(default = "default_prometheus_storage")]
    pub storage: Quantity,
    /// StorageClass of Prometheus' volume: one kubelab renders or one listed in
    /// `storage.existingClasses`. Left out: local-path's class when local-path is enabled, else
    /// the NFS class when nfsCsi is enabled, else no volume (metrics live in an emptyDir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// metrics-server for `kubectl top` and autoscaling.
    #[serde(default = "default_true")]
    pub metrics_server: bool,
    /// Memory use (percent of limit or node) that raises an alert.
    #[serde(default = "default_memory_alert")]
    #[schemars(range(min = 1, max = 100))]
    pub memory_alert_percent: u8,
    /// Container restarts per hour that raise an alert.
    #[serde(default = "default_restart_alert")]
    pub restart_alert_per_hour: u32,
}

impl Default for Monitoring {
    fn default() -> Self {
        Self {
            enabled: true,
            retention: default_retention(),
            storage: default_prometheus_storage(),
            storage_class: None,
            metrics_server: true,
            memory_alert_percent: default_memory_alert(),
            restart_alert_per_hour: default_restart_alert(),
        }
    }
}

fn default_retention() -> String {
    "15d".to_string()
}

fn default_prometheus_storage() -> Quantity {
    Quantity::new("20Gi")
}

fn default_memory_alert() -> u8 {
    90
}

fn default_restart_alert() -> u32 {
    3
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backup {
    #[serde(default)]
    pub etcd: EtcdBackup,
    #[serde(default)]
    pub velero: VeleroBackup,
}

/// Scheduled etcd snapshots through the Talos API, onto an NFS export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EtcdBackup {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// When snapshots are taken: a cron schedule as a Kubernetes CronJob takes it, five
    /// fields (`0 */6 * * *`) or a macro such as `@daily`.
    #[serde(default = "default_etcd_schedule")]
    pub schedule: String,
    /// Snapshots to keep.
    #[serde(default = "default_etcd_retain")]
    #[schemars(range(min = 1))]
    pub retain: u32,
    /// Name of the NAS export that receives the snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<String>,
}

impl Default for EtcdBackup {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: default_etcd_schedule(),
            retain: default_etcd_retain(),
            export: None,
        }
    }
}

fn default_etcd_schedule() -> String {
    "0 */6 * * *".to_string()
}

fn default_etcd_retain() -> u32 {
    28
}

/// Velero backups of namespaces and volumes to the NAS's S3 endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VeleroBackup {
    #[serde(default)]
    pub enabled: bool,
    /// When backups run: a cron schedule, five fields (`0 3 * * *`) or a macro such as
    /// `@daily`.
    #[serde(default = "default_velero_schedule")]
    pub schedule: String,
    /// How long backups are kept: a Go duration such as `720h` (Go has no day unit: 30 days
    /// is `720h`).
    #[serde(default = "default_velero_ttl")]
    pub ttl: String,
    /// Namespaces to back up; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Back up volume contents with the node agent (kopia).
    #[serde(default = "default_true")]
    pub file_system_backup: bool,
}

impl Default for VeleroBackup {
    fn default() -> Self {
        Self {
            enabled: false,
            schedule: default_velero_schedule(),
            ttl: default_velero_ttl(),
            namespaces: Vec::new(),
            file_system_backup: true,
        }
    }
}

fn default_velero_schedule() -> String {
    "0 3 * * *".to_string()
}

fn default_velero_ttl() -> String {
    "720h".to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gitops {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<Flux>,
}

/// Flux reconciles the rendered tree from a Git repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flux {
    /// Repository URL (`https://…` or `ssh://git@…`).
    pub repository: String,
    #[serde(default = "default_branch")]
    pub branch: String,
    /// Folder in the repository that holds this cluster's tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How often Flux reconciles: a duration such as `10m` or `1h30m` (units h, m, s, ms).
    #[serde(default = "default_interval")]
    pub interval: String,
}

fn default_branch() -> String {
    "main".to_string()
}

fn default_interval() -> String {
    "10m".to_string()
}
