//! kubelab-plan: what fits, what goes Pending and why, and what losing nodes costs, before
//! anything is deployed. Pods are placed the way kube-scheduler's default profile places
//! them (filters, scores, queue order, preemption), against a cluster built from lab.yaml or
//! from a snapshot of a real one.

pub mod cluster;
pub mod drill;
pub mod generate;
pub mod lab;
pub mod model;
pub mod quantity;
pub mod reason;
pub mod report;
pub mod sched;
pub mod workloads;

pub use cluster::Cluster;
pub use sched::{schedule, Options, Order, Outcome};
