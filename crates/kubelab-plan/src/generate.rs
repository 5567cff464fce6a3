//! Generated clusters and workloads of any size, for the benchmark and scale tests: nodes in
//! zones with mixed architectures and some tainted, and controllers with a mix of plain
//! requests, node selectors, tolerations, required anti-affinity and topology spread.

use std::collections::BTreeMap;

use crate::cluster::{Cluster, Pod};
use crate::model::Owner;
use crate::model::{
    AffinityTerm, Effect, Node, NodeRole, Op, Requirement, Resources, Selector, SpreadConstraint,
    Taint, Template, Toleration,
};

const GI: i64 = 1 << 30;
const ZONES: usize = 10;

pub fn nodes(count: usize) -> Vec<Node> {
    (0..count)
        .map(|i| {
            let name = format!("node-{i:05}");
            let arch = if i % 4 == 0 { "amd64" } else { "arm64" };
            let labels = BTreeMap::from([
                ("kubernetes.io/hostname".to_string(), name.clone()),
                ("kubernetes.io/arch".to_string(), arch.to_string()),
                (
                    "topology.kubernetes.io/zone".to_string(),
                    format!("zone-{}", i % ZONES),
                ),
            ]);
            let taints = if i % 20 == 0 {
                vec![Taint {
                    key: "dedicated".into(),
                    value: "batch".into(),
                    effect: Effect::NoSchedule,
                }]
            } else {
                Vec::new()
            };
            Node {
                name,
                labels,
                taints,
                unschedulable: false,
                allocatable: Resources {
                    cpu: 16_000,
                    memory: 64 * GI,
                    ephemeral: 100 * GI,
                    pods: 110,
                    scalar: Vec::new(),
                },
                reserved_cpu: 0,
                reserved_memory: 0,
                role: NodeRole::Worker,
            }
        })
        .collect()
}

fn selector(app: &str) -> Selector {
    Selector {
        requirements: vec![Requirement {
            key: "app".into(),
            op: Op::In(vec![app.to_string()]),
        }],
    }
}

/// `pods` pods in controllers of `per_controller` replicas each.
pub fn cluster(node_count: usize, pods: usize, per_controller: usize) -> Cluster {
    let mut cluster = Cluster {
        nodes: nodes(node_count),
        kubernetes_minor: 36,
        ..Cluster::default()
    };
    let mut made = 0;
    let mut c = 0;
    while made < pods {
        c += 1;
        let app = format!("app-{c}");
        let mut t = Template::reservation("default", &app, 0, 0);
        t.platform = false;
        t.preempts = true;
        t.priority = 0;
        t.tolerations.clear();
        t.owner = Owner {
            kind: "Deployment".into(),
            name: app.clone(),
        };
        t.labels = BTreeMap::from([("app".to_string(), app.clone())]);
        t.requests = Resources {
            cpu: 100 + (c as i64 % 5) * 50,
            memory: (256 + (c as i64 % 7) * 128) << 20,
            pods: 1,
            ..Resources::default()
        };
        t.nonzero_cpu = t.requests.cpu;
        t.nonzero_memory = t.requests.memory;
        let mut replicas = per_controller;
        match c % 10 {
            0 | 1 => {
                t.node_selector
                    .insert("kubernetes.io/arch".into(), "arm64".into());
            }
            2 => {
                t.node_selector.insert(
                    "topology.kubernetes.io/zone".into(),
                    format!("zone-{}", c % ZONES),
                );
            }
            3 => t.tolerations.push(Toleration {
                key: Some("dedicated".into()),
                exists: true,
                value: String::new(),
                effect: Some(Effect::NoSchedule),
            }),
            4 => {
                t.anti_affinity.push(AffinityTerm {
                    selector: selector(&app),
                    namespaces: vec!["default".into()],
                    all_namespaces: false,
                    topology_key: "kubernetes.io/hostname".into(),
                });
                replicas = per_controller.min(20);
            }
            5 => t.spread.push(SpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                hard: true,
                selector: selector(&app),
                min_domains: None,
                honor_node_affinity: true,
                honor_taints: false,
            }),
            _ => {}
        }
        let ti = cluster.add_template(t);
        for r in 0..replicas {
            if made == pods {
                break;
            }
            cluster.pods.push(Pod {
                name: format!("{app}-{r}"),
                template: ti,
                claims: Vec::new(),
                bound: None,
                pinned: None,
            });
            made += 1;
        }
    }
    cluster
}
