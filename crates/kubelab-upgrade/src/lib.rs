//! `kubelab upgrade`: brings a running lab to the Talos and Kubernetes versions lab.yaml names.
//!
//! - [`path`]: the supported path (adjacent minors, each at its newest patch; Talos ↔
//!   Kubernetes compatibility), or why there is none;
//! - [`run::observe`] asks every node what it runs; [`plan`] turns that into the ordered steps
//!   `--plan` prints;
//! - [`run::upgrade`]: Talos first — control planes one at a time (etcd healthy with every
//!   member before each, the leader last), pull → lifecycle upgrade → drain → reboot → back on
//!   the new version → its etcd member healthy → Ready and uncordoned; then workers in batches;
//!   then Kubernetes by applying re-rendered configs, component by component
//!   ([`kubernetes`]). Talos's lifecycle API does not check etcd quorum itself (the legacy
//!   upgrade API did), which is why the gate lives here.

mod error;
mod lab;

pub mod drill;
pub mod kubernetes;
pub mod path;
pub mod plan;
pub mod run;
pub mod workloads;

pub use error::UpgradeError;
pub use lab::UpgradeLab;
pub use run::{
    observe, upgrade, NoDrain, Observed, Options, Summary, Timeouts, UpgradeEvent, Workloads,
};
