//! What lab.yaml asked for, as far as the checks compare it with the cluster, and where in
//! lab.yaml each part is written (for fixes that name a line).

use std::collections::{BTreeMap, BTreeSet};

use kubelab_spec::model::Role;
use kubelab_spec::{Lab, SpanIndex};

/// The lab's intent, read from the model (never re-derived from rendered files).
#[derive(Debug, Clone, Default)]
pub struct Intent {
    /// `cluster.allowSchedulingOnControlPlanes`.
    pub control_planes_schedulable: bool,
    pub control_planes: BTreeSet<String>,
    /// Nodes lab.yaml makes BGP speakers.
    pub speakers: BTreeSet<String>,
    /// LoadBalancer pool name → its index in `loadBalancer.pools`.
    pub pools: BTreeMap<String, usize>,
    /// JSON pointer → 1-based line in lab.yaml, for the pointers fixes may name.
    pub lines: BTreeMap<String, usize>,
    /// The lab file's name as the user gave it, for `lab.yaml:12` in fixes.
    pub file: String,
    /// The lab's certificates the caller could read (kubeconfig, talosconfig, their CAs).
    pub certificates: Vec<Certificate>,
    /// Now, as Unix seconds, for certificate expiry and backup age (injected, so tests fix
    /// the clock).
    pub now_unix: i64,
    /// `versions.talos` with its `v`, as Talos reports versions (e.g. `v1.14.7`).
    pub talos_version: Option<String>,
    /// Node name → its static address, for `talosctl -n <ip>` in fixes.
    pub node_addresses: BTreeMap<String, String>,
    /// etcd's space quota as the rendered control plane config sets it
    /// (`cluster.etcd.extraArgs.quota-backend-bytes`); `None` for etcd's default.
    pub etcd_quota_bytes: Option<i64>,
    /// The local etcd snapshots the caller found; `None` when it did not look.
    pub etcd_backups: Option<LocalBackups>,
    /// Node name → the memory lab.yaml plans for it (the seed's platform overheads, under
    /// `capacity:`), for nodes whose memory parses.
    pub memory_plans: BTreeMap<String, NodeMemoryPlan>,
    /// The kubelet's hard eviction threshold `memory.available` when the rendered machine
    /// config sets one (`machine.kubelet.extraConfig.evictionHard`, only through
    /// `talos.patches`: kubelab renders none); `None` for the kubelet's default.
    pub eviction_memory_available: Option<EvictionThreshold>,
    /// `gitops.flux.interval` when lab.yaml has Flux reconcile the tree (`None`: no Flux).
    pub flux_interval: Option<String>,
    /// lab.yaml's `backup.velero.enabled`.
    pub velero_enabled: bool,
}

/// What lab.yaml plans for one node's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeMemoryPlan {
    /// Installed memory (`nodes[].memory`), bytes.
    pub installed: f64,
    /// The platform's share by the seed's figures (Cilium agent, Talos and system pods, and
    /// the control plane's own on control planes), bytes.
    pub platform: f64,
    /// The node's index in `nodes`, for its lab.yaml line.
    pub index: usize,
    pub control_plane: bool,
}

/// A kubelet hard eviction threshold for `memory.available`: a quantity, or a percentage of
/// the node's capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvictionThreshold {
    Bytes(f64),
    Percent(f64),
}

/// The kubelet's own `evictionHard` default for `memory.available` (kubernetes/kubernetes,
/// pkg/kubelet/apis/config/v1beta1 defaults for Linux): 100Mi. kubelab renders no
/// `evictionHard`; whether Talos's generated kubelet config sets one was not verified here
/// (the reference notes say nothing of it), so a Talos default would go unseen.
pub const DEFAULT_EVICTION_MEMORY_AVAILABLE: f64 = 100.0 * 1024.0 * 1024.0;

impl EvictionThreshold {
    /// The threshold in bytes on a node of `capacity` bytes.
    pub fn bytes(self, capacity: f64) -> f64 {
        match self {
            EvictionThreshold::Bytes(b) => b,
            EvictionThreshold::Percent(p) => capacity * p / 100.0,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        match text.strip_suffix('%') {
            Some(percent) => percent.trim().parse().ok().map(EvictionThreshold::Percent),
            None => kubelab_spec::quantity::parse_quantity(text).map(EvictionThreshold::Bytes),
        }
    }
}

/// etcd's own space quota, which Talos keeps: Talos starts etcd with no `quota-backend-bytes`
/// unless `cluster.etcd.extraArgs` sets it (siderolabs/talos,
/// internal/app/machined/pkg/system/services/etcd.go, `argsForControlPlane`), and etcd then
/// uses its `DefaultQuotaBytes` of 2 GiB (etcd-io/etcd, server/storage/quota.go); Talos's
/// "etcd maintenance" guide says the same and raises it through `extraArgs`.
pub const DEFAULT_ETCD_QUOTA_BYTES: i64 = 2 * 1024 * 1024 * 1024;

/// Where the lab's local etcd snapshots are and when the newest was taken (data the caller
/// reads with kubelab-backup, so this crate needs no dependency on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBackups {
    pub dir: String,
    /// The newest snapshot: its file name and when it was taken (Unix seconds).
    pub newest: Option<(String, i64)>,
}

/// A certificate the lab's tools depend on, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Where it is, e.g. `kubeconfig client certificate`.
    pub what: String,
    /// A CA (re-keying it rebuilds the cluster) rather than a client certificate.
    pub authority: bool,
    pub not_after_unix: i64,
}

/// Pointers a fix may name.
pub(crate) const SCHEDULE_ON_CONTROL_PLANES: &str = "/cluster/allowSchedulingOnControlPlanes";
pub(crate) const BGP_SPEAKERS: &str = "/bgp/speakers";
pub(crate) const TALOS_VERSION: &str = "/versions/talos";
pub(crate) const TALOS_PATCHES: &str = "/talos/patches";
pub(crate) const MONITORING_RETENTION: &str = "/monitoring/retention";
pub(crate) const CAPACITY_SYSTEM_PODS: &str = "/capacity/systemPods";
pub(crate) const CAPACITY_CONTROL_PLANE: &str = "/capacity/controlPlaneOverhead";

pub(crate) fn node_memory_pointer(index: usize) -> String {
    format!("/nodes/{index}/memory")
}

pub(crate) fn pool_pointer(index: usize, field: &str) -> String {
    format!("/loadBalancer/pools/{index}/{field}")
}

impl Intent {
    /// The intent of `lab`; with `spans`, fixes name lab.yaml lines.
    pub fn from_lab(lab: &Lab, file: &str, spans: Option<&SpanIndex>) -> Self {
        let mut intent = Intent {
            control_planes_schedulable: lab.cluster.allow_scheduling_on_control_planes,
            control_planes: lab
                .nodes
                .iter()
                .filter(|n| n.role == Role::Controlplane)
                .map(|n| n.name.clone())
                .collect(),
            speakers: lab
                .bgp_speakers()
                .into_iter()
                .map(|(_, n)| n.name.clone())
                .collect(),
            pools: lab
                .load_balancer
                .pools
                .iter()
                .enumerate()
                .map(|(i, p)| (p.name.clone(), i))
                .collect(),
            lines: BTreeMap::new(),
            file: file.to_string(),
            certificates: Vec::new(),
            now_unix: 0,
            talos_version: Some(format!("v{}", lab.versions.talos)),
            node_addresses: lab
                .nodes
                .iter()
                .filter_map(|n| Some((n.name.clone(), n.ip?.to_string())))
                .collect(),
            etcd_quota_bytes: None,
            etcd_backups: None,
            memory_plans: kubelab_spec::budget::node_budgets(lab)
                .into_iter()
                .filter_map(|b| {
                    let index = lab.nodes.iter().position(|n| n.name == b.node)?;
                    Some((
                        b.node,
                        NodeMemoryPlan {
                            installed: b.memory,
                            platform: b.overhead,
                            index,
                            control_plane: b.role == Role::Controlplane,
                        },
                    ))
                })
                .collect(),
            eviction_memory_available: None,
            flux_interval: lab.gitops.flux.as_ref().map(|f| f.interval.clone()),
            velero_enabled: lab.backup.velero.enabled,
        };
        if let Some(spans) = spans {
            let mut pointers = vec![
                SCHEDULE_ON_CONTROL_PLANES.to_string(),
                BGP_SPEAKERS.to_string(),
                TALOS_VERSION.to_string(),
                TALOS_PATCHES.to_string(),
                CAPACITY_SYSTEM_PODS.to_string(),
                CAPACITY_CONTROL_PLANE.to_string(),
                MONITORING_RETENTION.to_string(),
            ];
            for i in 0..lab.nodes.len() {
                pointers.push(node_memory_pointer(i));
            }
            for i in 0..lab.load_balancer.pools.len() {
                pointers.push(pool_pointer(i, "serviceSelector"));
                pointers.push(pool_pointer(i, "blocks"));
            }
            let text = spans.source_text();
            for pointer in pointers {
                if let Some(span) = spans.nearest(&pointer) {
                    let start = span.start.min(text.len());
                    let line = text.as_bytes()[..start]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1;
                    intent.lines.insert(pointer, line);
                }
            }
        }
        intent
    }

    /// The lab.yaml line of `pointer` (or of its nearest written ancestor).
    pub fn line(&self, pointer: &str) -> Option<usize> {
        self.lines.get(pointer).copied()
    }

    /// etcd's space quota: the configured one, or etcd's default.
    pub fn etcd_quota(&self) -> i64 {
        self.etcd_quota_bytes.unwrap_or(DEFAULT_ETCD_QUOTA_BYTES)
    }

    /// `talosctl -n <address>` for a node (its name when lab.yaml gives no address).
    pub(crate) fn talosctl(&self, node: &str) -> String {
        let target = self.node_addresses.get(node).map_or(node, String::as_str);
        format!("talosctl -n {target}")
    }
}

/// The etcd quota a rendered control plane config sets (`cluster.etcd.extraArgs`
/// `quota-backend-bytes`), if it sets one.
pub fn etcd_quota_in_config(config: &str) -> Option<i64> {
    let source = kubelab_spec::SourceFile::new("config", config);
    let parsed = kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default()).ok()?;
    parsed.documents.iter().find_map(|document| {
        let value = kubelab_spec::yaml::to_value(document);
        let quota = value
            .pointer("/cluster/etcd/extraArgs/quota-backend-bytes")?
            .clone();
        match quota {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    })
}

/// The kubelet's hard eviction threshold for `memory.available` a rendered machine config
/// sets (`machine.kubelet.extraConfig.evictionHard`), if it sets one.
pub fn eviction_memory_available_in_config(config: &str) -> Option<EvictionThreshold> {
    let source = kubelab_spec::SourceFile::new("config", config);
    let parsed = kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default()).ok()?;
    parsed.documents.iter().find_map(|document| {
        let value = kubelab_spec::yaml::to_value(document);
        let threshold = value
            .pointer("/machine/kubelet/extraConfig/evictionHard/memory.available")?
            .as_str()?
            .to_string();
        EvictionThreshold::parse(&threshold)
    })
}

/// The PEM certificates in a kubeconfig's current context: the client certificate and the
/// cluster's CA (`*-data` fields; file references are left to kubectl). Unreadable parts are
/// skipped: expiry is advice, and the connection itself reports a broken kubeconfig.
pub fn kubeconfig_certificates(kubeconfig: &[u8]) -> Vec<(String, bool, Vec<u8>)> {
    use base64::Engine as _;
    let Ok(parsed) = kube::config::Kubeconfig::from_yaml(&String::from_utf8_lossy(kubeconfig))
    else {
        return Vec::new();
    };
    let decode = |b64: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
    };
    let context = parsed
        .contexts
        .iter()
        .find(|c| Some(&c.name) == parsed.current_context.as_ref())
        .and_then(|c| c.context.as_ref());
    let mut out = Vec::new();
    if let Some(context) = context {
        let auth = parsed
            .auth_infos
            .iter()
            .find(|a| context.user.as_deref() == Some(a.name.as_str()))
            .and_then(|a| a.auth_info.as_ref());
        if let Some(pem) = auth
            .and_then(|a| a.client_certificate_data.as_deref())
            .and_then(decode)
        {
            out.push(("kubeconfig client certificate".to_string(), false, pem));
        }
        let cluster = parsed
            .clusters
            .iter()
            .find(|c| c.name == context.cluster)
            .and_then(|c| c.cluster.as_ref());
        if let Some(pem) = cluster
            .and_then(|c| c.certificate_authority_data.as_deref())
            .and_then(decode)
        {
            out.push(("Kubernetes CA (kubeconfig)".to_string(), true, pem));
        }
    }
    out
}
