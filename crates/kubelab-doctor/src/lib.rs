//! `kubelab status` and `kubelab doctor`: what the live cluster looks like, and what is wrong
//! with it measured against the lab's intent.
//!
//! Data flows one way: [`fetch`] takes a [`Snapshot`] of the cluster in a fixed, small number
//! of list calls (never one per object, so a 10,000-pod cluster costs what a ten-pod one does);
//! [`Intent`] is what lab.yaml asked for; [`diagnose`] and [`Status::build`] are pure functions
//! of the two. Everything a user sees is built from values, so tests feed recorded or generated
//! snapshots as well as a real API server's.
//!
//! A snapshot records what it could not see ([`Unseen`]): a missing CRD or a forbidden list is
//! reported and the checks that need it stay silent rather than guess.

mod checks;
mod finding;
mod intent;
mod pools;
mod render;
mod snapshot;
mod status;

pub use checks::diagnose;
pub use finding::{Finding, Fix, Severity};
pub use intent::{kubeconfig_certificates, Certificate, Intent};
pub use render::{render_findings, sarif};
pub use snapshot::{fetch, FetchError, Snapshot, Unseen, MAX_LIST_CALLS};
pub use status::{render_status, Status};
