//! `kubelab plan`: schedule workloads offline against the lab (or a cluster snapshot), explain
//! every Pending pod, show headroom, and run failure drills.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kubelab_diagram::capacity;
use kubelab_manifests::Document;
use kubelab_plan::lab::{cluster_from_lab, LabOptions};
use kubelab_plan::model::NodeRole;
use kubelab_plan::{drill, report, schedule, workloads, Cluster, Options, Order};

use crate::cli::{PlanArgs, PlanFormat, PlanOrder};
use crate::lab_file;
use crate::output::{with_causes, Style};

/// Kubernetes minor assumed for a snapshot whose nodes do not say (the default lab's).
const DEFAULT_MINOR: u32 = 36;

pub fn run(args: PlanArgs, style: Style) -> Result<ExitCode, String> {
    let documents = read_all(&args.paths)?;
    let mut cluster = if args.cluster.is_empty() {
        let path = args
            .lab
            .clone()
            .unwrap_or_else(|| PathBuf::from("lab.yaml"));
        let checked = match lab_file::check(&path) {
            Ok(checked) => checked,
            Err(unreadable) => {
                eprintln!(
                    "{}",
                    style.error_line(&format!(
                        "{} (give it with --lab, or plan against a cluster snapshot with --cluster)",
                        unreadable.line()
                    ))
                );
                return Ok(ExitCode::from(crate::EXIT_FINDINGS));
            }
        };
        lab_cluster(&path, checked, args.scheduler_view)?
    } else {
        snapshot_cluster(&args.cluster)?
    };
    let errors = workloads::load(&mut cluster, &documents);
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(|e| with_causes(e)).collect();
        return Err(format!("cannot read the workloads:\n{}", lines.join("\n")));
    }
    let options = Options {
        order: match args.order {
            PlanOrder::Queue => Order::Queue,
            PlanOrder::Apply => Order::Apply,
        },
        percentage_of_nodes_to_score: args.percentage_of_nodes_to_score,
        keep_node_reasons: args.output == PlanFormat::Json,
        ..Options::default()
    };
    let outcome = schedule(&cluster, options.clone());
    let mut plan = report::build(&cluster, &outcome);
    if args.headroom_limit > 0 {
        plan.headroom = report::headroom(&cluster, &options, args.headroom_limit as usize);
    }
    let drills = drills(&cluster, &outcome, &args.fail, &options)?;
    match args.output {
        PlanFormat::Text => {
            crate::out!("{}", report::text(&plan));
            for d in &drills {
                crate::out!("{}", drill::text(d));
            }
        }
        PlanFormat::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "plan": plan, "drills": drills }))
                .unwrap_or_default()
        ),
        PlanFormat::Html => crate::out!("{}", capacity::html(&capacity_view(&plan, &drills))),
        PlanFormat::Svg => crate::out!("{}", capacity::svg(&capacity_view(&plan, &drills))),
    }
    Ok(if plan.pending.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FINDINGS)
    })
}

fn drills(
    cluster: &Cluster,
    outcome: &kubelab_plan::Outcome,
    fail: &[String],
    options: &Options,
) -> Result<Vec<drill::Drill>, String> {
    let mut out = Vec::new();
    let mut named = Vec::new();
    for spec in fail {
        if let Some(n) = spec.strip_prefix("any:") {
            let count: usize = n.parse().map_err(|_| {
                format!("--fail {spec}: expected any:N with a number, such as any:1")
            })?;
            out.push(drill::worst(cluster, outcome, count, options));
            continue;
        }
        for name in spec.split(',').filter(|s| !s.is_empty()) {
            let index = cluster.node_index(name).ok_or_else(|| {
                let names: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
                format!(
                    "--fail {name}: no such node; the nodes are {}",
                    names.join(", ")
                )
            })?;
            named.push(index);
        }
    }
    if !named.is_empty() {
        out.insert(0, drill::run(cluster, outcome, &named, options));
    }
    Ok(out)
}

fn lab_cluster(
    path: &Path,
    checked: kubelab_spec::Checked,
    scheduler_view: bool,
) -> Result<Cluster, String> {
    let lab = match checked.lab {
        Some(lab) if checked.error_count() == 0 => lab,
        _ => {
            return Err(format!(
                "{} has errors; run `kubelab check {}` first",
                path.display(),
                path.display()
            ))
        }
    };
    cluster_from_lab(&lab, &rendered_storage(&lab), LabOptions { scheduler_view }).map_err(
        |errors| {
            errors
                .iter()
                .map(|e| with_causes(e))
                .collect::<Vec<_>>()
                .join("\n")
        },
    )
}

/// The storage objects exactly as `kubelab render` writes them, read back as manifests: the
/// plan's StorageClasses and volumes come from the renderer's decisions, not a second copy.
fn rendered_storage(lab: &kubelab_spec::Lab) -> Vec<Document> {
    let mut tree = kubelab_render::Tree::default();
    kubelab_render::storage::render(lab, &mut tree);
    let mut documents = Vec::new();
    for (path, file) in &tree.files {
        let errors = kubelab_manifests::read(path, &file.contents, &mut |d| documents.push(d));
        debug_assert!(errors.is_empty(), "kubelab's own output parses: {errors:?}");
    }
    documents
}

fn snapshot_cluster(paths: &[PathBuf]) -> Result<Cluster, String> {
    let documents = read_all(paths)?;
    let minor = documents
        .iter()
        .filter(|d| d.kind() == "Node")
        .filter_map(|d| d.value.pointer("/status/nodeInfo/kubeletVersion")?.as_str())
        .filter_map(|v| v.trim_start_matches('v').split('.').nth(1)?.parse().ok())
        .max()
        .unwrap_or(DEFAULT_MINOR);
    let mut cluster = Cluster {
        kubernetes_minor: minor,
        ..Cluster::default()
    };
    // Nodes first, so the running pods find them.
    let (nodes, rest): (Vec<Document>, Vec<Document>) =
        documents.into_iter().partition(|d| d.kind() == "Node");
    let mut errors = workloads::load(&mut cluster, &nodes);
    errors.extend(workloads::load(&mut cluster, &rest));
    if let Some(e) = errors.first() {
        return Err(with_causes(e));
    }
    if cluster.nodes.is_empty() {
        return Err(
            "the cluster snapshot has no Node objects; take it with `kubectl get nodes -o yaml`"
                .into(),
        );
    }
    cluster.etcd_members = (0..cluster.nodes.len())
        .filter(|&i| cluster.nodes[i].role == NodeRole::ControlPlane)
        .collect();
    Ok(cluster)
}

/// Every object in `paths` (files, directories, `-`); unreadable YAML is an error here,
/// since a plan without some of its workloads would be wrong.
fn read_all(paths: &[PathBuf]) -> Result<Vec<Document>, String> {
    let mut documents = Vec::new();
    let problems = kubelab_manifests::read_paths(paths, &mut |d| documents.push(d))
        .map_err(|e| with_causes(&e))?;
    match problems.first() {
        Some(p) => Err(p.to_string()),
        None => Ok(documents),
    }
}

/// The plan as the capacity picture shows it: per node, Talos's reservations, the platform's
/// load and each workload's requests against capacity.
fn capacity_view(plan: &report::Plan, drills: &[drill::Drill]) -> capacity::CapacityView {
    let nodes = plan.nodes.iter().map(node_capacity).collect();
    let pending = |rows: &[report::PendingRow]| -> Vec<capacity::PendingPod> {
        rows.iter()
            .map(|p| capacity::PendingPod {
                pod: format!("{}/{}", p.pod.namespace, p.pod.name),
                message: p.message.clone(),
            })
            .collect()
    };
    capacity::CapacityView {
        title: "kubelab plan: capacity".to_string(),
        notes: vec![report::order_line(plan.order).to_string()],
        nodes,
        pending: pending(&plan.pending),
        headroom: plan
            .headroom
            .iter()
            .map(|h| capacity::HeadroomLine {
                workload: h.workload.clone(),
                text: match &h.first_limit {
                    Some(limit) => format!("{} more; the first limit is {limit}", h.more_replicas),
                    None => format!("{} more", h.more_replicas),
                },
            })
            .collect(),
        drills: drills
            .iter()
            .map(|d| capacity::DrillView {
                title: format!(
                    "{} fail{}",
                    d.failed.join(", "),
                    if d.failed.len() == 1 { "s" } else { "" }
                ),
                summary: drill::text(d)
                    .lines()
                    .skip(2)
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect(),
                nodes: d.nodes_after.iter().map(node_capacity).collect(),
                pending: pending(&d.pending),
            })
            .collect(),
    }
}

/// One node's bars: Talos's reservations, the platform's load and each workload's requests
/// against capacity.
fn node_capacity(n: &report::NodeRow) -> capacity::NodeCapacity {
    use capacity::{Bar, Resource, Segment, SegmentKind};
    let segment = |label: &str, kind, amount: i64| Segment {
        label: label.to_string(),
        kind,
        amount: amount as f64,
    };

    let workload_pods: i64 = n.workloads.iter().map(|w| w.pods).sum();
    let mut cpu = vec![segment(
        "Talos reservations",
        SegmentKind::Reserved,
        n.cpu_reserved,
    )];
    let mut memory = vec![
        segment(
            "Talos reservations",
            SegmentKind::Reserved,
            n.memory_reserved,
        ),
        segment(
            "platform overhead",
            SegmentKind::Platform,
            n.memory_platform,
        ),
    ];
    let platform_cpu = n.cpu_requested - n.workloads.iter().map(|w| w.cpu).sum::<i64>();
    cpu.push(segment(
        "platform overhead",
        SegmentKind::Platform,
        platform_cpu,
    ));
    let mut pods = vec![segment(
        "platform overhead",
        SegmentKind::Platform,
        n.pods - workload_pods,
    )];
    for w in &n.workloads {
        cpu.push(segment(&w.workload, SegmentKind::Workload, w.cpu));
        memory.push(segment(&w.workload, SegmentKind::Workload, w.memory));
        pods.push(segment(&w.workload, SegmentKind::Workload, w.pods));
    }
    capacity::NodeCapacity {
        name: n.name.clone(),
        role: match n.role {
            NodeRole::ControlPlane => "control plane".to_string(),
            NodeRole::Worker => "worker".to_string(),
        },
        bars: vec![
            Bar {
                resource: Resource::Cpu,
                capacity: (n.cpu_allocatable + n.cpu_reserved) as f64,
                segments: cpu,
            },
            Bar {
                resource: Resource::Memory,
                capacity: (n.memory_allocatable + n.memory_reserved) as f64,
                segments: memory,
            },
            Bar {
                resource: Resource::Pods,
                capacity: n.pods_allocatable as f64,
                segments: pods,
            },
        ],
    }
}
