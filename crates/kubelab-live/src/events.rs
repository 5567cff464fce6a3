//! Progress as events: one per phase start and end, one per node step, one per warning. The
//! CLI draws them as progress lines or prints one JSON object per event.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The phases of the live operations, in the order `up` runs its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Preflight,
    Apply,
    Install,
    Bootstrap,
    Health,
    Kubeconfig,
    Cilium,
    NodesReady,
    Bgp,
    Reset,
    Diff,
}

impl Phase {
    /// What the phase does, for its progress line.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Apply => "apply configs",
            Phase::Install => "install and reboot",
            Phase::Bootstrap => "bootstrap etcd",
            Phase::Health => "health check",
            Phase::Kubeconfig => "fetch kubeconfig",
            Phase::Cilium => "wait for Cilium",
            Phase::NodesReady => "nodes Ready",
            Phase::Bgp => "BGP sessions and LoadBalancer pools",
            Phase::Reset => "reset nodes",
            Phase::Diff => "diff against the running configs",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    PhaseStarted,
    /// A node did something, or something was found about it.
    Step,
    /// Worth a person's attention; the run goes on.
    Warning,
    PhaseDone,
    /// Nothing was left to do in this phase.
    PhaseSkipped,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub phase: Phase,
    pub kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub message: String,
    /// Since the operation started.
    pub elapsed_ms: u64,
}

/// Where events go.
pub type Sink<'a> = &'a mut (dyn FnMut(Event) + Send);

/// How long a phase took, for the final summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTiming {
    pub phase: Phase,
    pub elapsed_ms: u64,
    /// False when the phase found everything already done.
    pub acted: bool,
}

/// Emits events with their times and keeps the phase timings.
pub(crate) struct Progress<'a> {
    sink: Sink<'a>,
    started: Instant,
    phase_started: Instant,
    phase: Phase,
    pub(crate) timings: Vec<PhaseTiming>,
}

impl<'a> Progress<'a> {
    pub(crate) fn new(sink: Sink<'a>) -> Self {
        let now = Instant::now();
        Progress {
            sink,
            started: now,
            phase_started: now,
            phase: Phase::Preflight,
            timings: Vec::new(),
        }
    }

    fn emit(&mut self, kind: EventKind, node: Option<&str>, message: String) {
        let event = Event {
            phase: self.phase,
            kind,
            node: node.map(str::to_string),
            message,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        };
        (self.sink)(event);
    }

    pub(crate) fn start(&mut self, phase: Phase) {
        self.phase = phase;
        self.phase_started = Instant::now();
        self.emit(EventKind::PhaseStarted, None, phase.title().to_string());
    }

    pub(crate) fn step(&mut self, node: &str, message: impl Into<String>) {
        self.emit(EventKind::Step, Some(node), message.into());
    }

    pub(crate) fn warn(&mut self, node: Option<&str>, message: impl Into<String>) {
        self.emit(EventKind::Warning, node, message.into());
    }

    /// Ends the phase; `acted` false means it found nothing to do.
    pub(crate) fn finish(&mut self, acted: bool, message: impl Into<String>) {
        let elapsed = self.phase_started.elapsed();
        self.timings.push(PhaseTiming {
            phase: self.phase,
            elapsed_ms: elapsed.as_millis() as u64,
            acted,
        });
        let kind = if acted {
            EventKind::PhaseDone
        } else {
            EventKind::PhaseSkipped
        };
        self.emit(kind, None, message.into());
    }

    pub(crate) fn total(&self) -> Duration {
        self.started.elapsed()
    }
}
