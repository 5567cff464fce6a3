//! The live layer: what `kubelab up`, `kubelab down` and `kubelab diff --live` do to a lab's
//! Talos nodes, through the Talos API.
//!
//! Each operation reads the lab model and the rendered tree ([`LiveLab`]), asks every node what
//! it is before acting ([`state`]), and acts only where something is left to do, so running it
//! again after an interruption continues where it stopped. Every wait has a deadline
//! ([`Timeouts`]) and fails naming the node and the phase. Progress goes out as [`Event`]s; the
//! CLI draws them or prints them as JSON.
//!
//! - [`up`]: preflight → apply (maintenance mode) → install and reboot → bootstrap etcd once →
//!   Talos's health check → fetch the kubeconfig → ([`kubernetes`]) Cilium ready → nodes
//!   Ready → BGP sessions established and LoadBalancer pools ready.
//! - [`down`]: graceful resets, workers first, then control planes one at a time, each waited
//!   for until it is back in maintenance mode; one node with etcd quorum kept.
//! - [`diff`]: each node's dry-run apply of its rendered config: Talos's own diff.

mod error;
mod events;
mod lab;

pub mod kubernetes;

pub mod diff;
pub mod down;
pub mod state;
pub mod up;

pub use error::{LiveError, NodeProblem};
pub use events::{Event, EventKind, Phase, PhaseTiming, Sink};
pub use lab::{LiveLab, LiveNode};

use std::time::Duration;

/// How long each wait may last. The defaults suit real hardware; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One RPC or TLS handshake.
    pub call: Duration,
    /// A node that does not answer at preflight (it may be rebooting).
    pub reachable: Duration,
    /// From applying a config until the node answers on mTLS (install + reboot).
    pub install: Duration,
    /// Until etcd is bootstrapped (the node must have booted first).
    pub bootstrap: Duration,
    /// Talos's server-side health check.
    pub health: Duration,
    /// From a reset until the node is back in maintenance mode.
    pub reset: Duration,
    /// Until Cilium, the nodes, the BGP sessions and the pools are ready (each).
    pub kubernetes: Duration,
    /// Between two looks at a node that is not there yet.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            call: Duration::from_secs(15),
            reachable: Duration::from_secs(120),
            install: Duration::from_secs(20 * 60),
            bootstrap: Duration::from_secs(10 * 60),
            health: Duration::from_secs(15 * 60),
            reset: Duration::from_secs(10 * 60),
            kubernetes: Duration::from_secs(15 * 60),
            poll: Duration::from_secs(2),
        }
    }
}

/// Now, as Unix seconds (for certificate expiry).
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A duration as people read it in progress lines: `850ms`, `12.3s`, `4m05s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}
