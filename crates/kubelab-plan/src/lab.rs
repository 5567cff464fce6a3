//! A cluster from lab.yaml, before anything exists: nodes as the kubelet will register them
//! and the platform load kubelab knows about.
//!
//! Allocatable follows the kubelet's arithmetic with Talos's settings: capacity minus Talos's
//! systemReserved (cpu 50m; memory 512Mi on control planes, 384Mi on workers; ephemeral
//! storage 256Mi) minus the kubelet's default hard eviction threshold (memory.available
//! 100Mi); 110 pods. Control planes carry the static pods Talos runs with Talos's default
//! requests (kube-apiserver 200m/512Mi, kube-controller-manager 50m/256Mi, kube-scheduler
//! 10m/64Mi) and the control-plane NoSchedule taint unless the lab allows workloads there.
//!
//! The seed's per-node overheads (lab.yaml `capacity:`) are memory the platform uses without
//! requesting it (etcd, the Cilium agent, Talos services beyond what systemReserved already
//! covers). kube-scheduler cannot see them; kubelab reserves them as a platform pod on each
//! node so a plan does not fill memory the node needs. `--scheduler-view` drops them to see
//! exactly what kube-scheduler alone would admit.

use std::collections::BTreeMap;

use kubelab_manifests::Document;
use kubelab_spec::labels::{BGP_SPEAKER_LABEL, LOCAL_STORAGE_LABEL};
use kubelab_spec::model::{Role, TaintEffect};
use kubelab_spec::Lab;

use crate::cluster::{Cluster, Pod};
use crate::model::{Effect, Node, NodeRole, Resources, Taint, Template};
use crate::workloads::{load, LoadError};

const MI: i64 = 1 << 20;
const SYSTEM_RESERVED_CPU: i64 = 50;
const SYSTEM_RESERVED_MEMORY_CONTROL_PLANE: i64 = 512 * MI;
const SYSTEM_RESERVED_MEMORY_WORKER: i64 = 384 * MI;
const SYSTEM_RESERVED_EPHEMERAL: i64 = 256 * MI;
const EVICTION_HARD_MEMORY: i64 = 100 * MI;
const MAX_PODS: i64 = 110;
/// Talos's default requests for the control-plane static pods: (name, millicores, bytes).
const STATIC_PODS: [(&str, i64, i64); 3] = [
    ("kube-apiserver", 200, 512 * MI),
    ("kube-controller-manager", 50, 256 * MI),
    ("kube-scheduler", 10, 64 * MI),
];
pub const CONTROL_PLANE_TAINT: &str = "node-role.kubernetes.io/control-plane";

#[derive(Debug, Clone, Copy, Default)]
pub struct LabOptions {
    /// Leave out the seed's unrequested overheads.
    pub scheduler_view: bool,
}

/// The cluster `lab` makes. `rendered` is what `kubelab render` writes for the lab that the
/// scheduler has to see (the storage objects: StorageClasses, the NAS's volumes), read back as
/// manifests. The caller renders it, so the plan works from exactly what the renderer decided
/// without re-deriving it, and without depending on the renderer and the PKI behind it.
pub fn cluster_from_lab(
    lab: &Lab,
    rendered: &[Document],
    options: LabOptions,
) -> Result<Cluster, Vec<LoadError>> {
    let mut cluster = Cluster {
        kubernetes_minor: lab.versions.kubernetes.minor,
        ..Cluster::default()
    };
    let speakers: Vec<String> = lab
        .bgp_speakers()
        .iter()
        .map(|(_, n)| n.name.clone())
        .collect();
    for node in &lab.nodes {
        let control_plane = node.role == Role::Controlplane;
        let mut labels: BTreeMap<String, String> = BTreeMap::from([
            ("kubernetes.io/hostname".into(), node.name.clone()),
            (
                "kubernetes.io/arch".into(),
                node.effective_arch().as_str().into(),
            ),
            ("kubernetes.io/os".into(), "linux".into()),
        ]);
        if control_plane {
            labels.insert(CONTROL_PLANE_TAINT.into(), String::new());
        }
        if node.local_storage {
            labels.insert(LOCAL_STORAGE_LABEL.into(), "true".into());
        }
        if speakers.contains(&node.name) {
            labels.insert(BGP_SPEAKER_LABEL.into(), "true".into());
        }
        labels.extend(node.labels.clone());
        let mut taints: Vec<Taint> = node
            .taints
            .iter()
            .map(|t| Taint {
                key: t.key.clone(),
                value: t.value.clone().unwrap_or_default(),
                effect: match t.effect {
                    TaintEffect::NoSchedule => Effect::NoSchedule,
                    TaintEffect::PreferNoSchedule => Effect::PreferNoSchedule,
                    TaintEffect::NoExecute => Effect::NoExecute,
                },
            })
            .collect();
        if control_plane && !lab.cluster.allow_scheduling_on_control_planes {
            taints.push(Taint {
                key: CONTROL_PLANE_TAINT.into(),
                value: String::new(),
                effect: Effect::NoSchedule,
            });
        }
        let memory = node.memory.value().unwrap_or(0.0) as i64;
        let reserved = if control_plane {
            SYSTEM_RESERVED_MEMORY_CONTROL_PLANE
        } else {
            SYSTEM_RESERVED_MEMORY_WORKER
        };
        cluster.nodes.push(Node {
            name: node.name.clone(),
            labels,
            taints,
            unschedulable: false,
            allocatable: Resources {
                cpu: i64::from(node.cpu) * 1000 - SYSTEM_RESERVED_CPU,
                memory: memory - reserved - EVICTION_HARD_MEMORY,
                // The lab does not say how big the disk is; do not invent a limit.
                ephemeral: i64::MAX / 4 - SYSTEM_RESERVED_EPHEMERAL,
                pods: MAX_PODS,
                scalar: Vec::new(),
            },
            reserved_cpu: SYSTEM_RESERVED_CPU,
            reserved_memory: reserved + EVICTION_HARD_MEMORY,
            role: if control_plane {
                NodeRole::ControlPlane
            } else {
                NodeRole::Worker
            },
        });
    }
    cluster.bgp_speakers = (0..cluster.nodes.len())
        .filter(|&i| speakers.contains(&cluster.nodes[i].name))
        .collect();
    cluster.etcd_members = (0..cluster.nodes.len())
        .filter(|&i| cluster.nodes[i].role == NodeRole::ControlPlane)
        .collect();
    add_platform_pods(&mut cluster, lab, options);
    let errors = load(&mut cluster, rendered);
    if errors.is_empty() {
        Ok(cluster)
    } else {
        Err(errors)
    }
}

fn add_platform_pods(cluster: &mut Cluster, lab: &Lab, options: LabOptions) {
    let cap = &lab.capacity;
    let bytes = |q: &kubelab_spec::quantity::Quantity| q.value().unwrap_or(0.0) as i64;
    for i in 0..cluster.nodes.len() {
        let control_plane = cluster.nodes[i].role == NodeRole::ControlPlane;
        let mut requested_by_static = 0;
        if control_plane {
            for (name, cpu, memory) in STATIC_PODS {
                requested_by_static += memory;
                let node = cluster.nodes[i].name.clone();
                reserve(cluster, i, &format!("{name}-{node}"), cpu, memory);
            }
        }
        if options.scheduler_view {
            continue;
        }
        let reserved = if control_plane {
            SYSTEM_RESERVED_MEMORY_CONTROL_PLANE
        } else {
            SYSTEM_RESERVED_MEMORY_WORKER
        };
        // Only what neither systemReserved nor the static pods' requests already hold back.
        let mut overhead = bytes(&cap.cilium_agent) + (bytes(&cap.system_pods) - reserved).max(0);
        if control_plane {
            overhead += (bytes(&cap.control_plane_overhead) - requested_by_static).max(0);
        }
        if overhead > 0 {
            let node = cluster.nodes[i].name.clone();
            reserve(
                cluster,
                i,
                &format!("platform-overhead-{node}"),
                0,
                overhead,
            );
        }
    }
}

fn reserve(cluster: &mut Cluster, node: usize, name: &str, cpu: i64, memory: i64) {
    let t = cluster.add_template(Template::reservation("kube-system", name, cpu, memory));
    cluster.pods.push(Pod {
        name: name.to_string(),
        template: t,
        claims: Vec::new(),
        bound: Some(node),
        pinned: None,
    });
}
