//! What the live commands share: opening the lab, its secrets and its rendered tree (rendered
//! in memory, exactly as `kubelab render` would write it), and drawing progress events as
//! lines with a spinner for the running phase, or as one JSON object per event.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kubelab_live::{human_duration, Event, EventKind, LiveError, LiveLab, PhaseTiming, Timeouts};
use kubelab_talos_api::Fingerprint;

use crate::cli::{LiveArgs, OutputFormat};
use crate::output::Style;
use crate::workspace::{LoadError, Workspace};

/// The lab ready for the live layer, or the exit code when it is not.
pub fn open(args: &LiveArgs, style: Style) -> Result<Result<LiveLab, ExitCode>, String> {
    Ok(open_workspace(args, style)?.map(|(_, live)| live))
}

/// [`open`], keeping the loaded workspace (lab.yaml, secrets, paths) too.
pub fn open_workspace(
    args: &LiveArgs,
    style: Style,
) -> Result<Result<(Workspace, LiveLab), ExitCode>, String> {
    let workspace = match Workspace::load(&args.lab, style) {
        Ok(w) => w,
        Err(LoadError::Findings) => return Ok(Err(ExitCode::from(crate::EXIT_FINDINGS))),
        Err(LoadError::Failure(e)) => return Err(e),
    };
    if !workspace.secrets_path.exists() {
        return Err(format!(
            "no secrets at {}; run `kubelab render` first (it creates them), or point at them with --secrets",
            workspace.secrets_path.display()
        ));
    }
    let secrets = workspace.open_secrets()?;
    let lab = super::render::with_bgp_password(&workspace.lab)?;
    let tree = kubelab_render::render(&lab, &secrets).map_err(|e| e.to_string())?;
    let pins = pins(&args.pin, &workspace.lab)?;
    let live = LiveLab::new(&lab, &tree, &pins).map_err(|e| chain(&e))?;
    Ok(Ok((workspace, live)))
}

/// The maintenance-mode pins: lab.yaml's `maintenanceFingerprint`s, overridden by `--pin`.
fn pins(raw: &[String], lab: &kubelab_spec::Lab) -> Result<BTreeMap<String, Fingerprint>, String> {
    let mut pins = BTreeMap::new();
    for node in &lab.nodes {
        if let Some(text) = &node.maintenance_fingerprint {
            // `check` has verified the shape; a parse failure here would be a disagreement
            // between the two readers, reported rather than ignored.
            let fingerprint: Fingerprint = text
                .parse()
                .map_err(|e| format!("{}: maintenanceFingerprint: {e}", node.name))?;
            pins.insert(node.name.clone(), fingerprint);
        }
    }
    for pin in raw {
        let (node, fingerprint) = pin
            .split_once('=')
            .ok_or_else(|| format!("--pin {pin}: expected NODE=FINGERPRINT"))?;
        if !lab.nodes.iter().any(|n| n.name == node) {
            return Err(format!("--pin {pin}: lab.yaml has no node `{node}`"));
        }
        let fingerprint: Fingerprint = fingerprint
            .parse()
            .map_err(|e| format!("--pin {pin}: {e}"))?;
        pins.insert(node.to_string(), fingerprint);
    }
    Ok(pins)
}

pub fn timeouts(args: &LiveArgs) -> Result<Timeouts, String> {
    if !(args.poll_seconds > 0.0 && args.poll_seconds < 3600.0) {
        return Err("--poll-seconds must be between 0 and 3600".to_string());
    }
    Ok(Timeouts {
        poll: Duration::from_secs_f64(args.poll_seconds),
        ..Timeouts::default()
    })
}

pub use crate::output::runtime;

/// An error with its causes, each printed once.
pub fn chain(error: &LiveError) -> String {
    crate::output::with_causes(error)
}

/// Draws events: progress lines on stdout (a spinner on stderr for the running phase when it
/// is a terminal), or JSON lines.
pub struct Printer {
    format: OutputFormat,
    style: Style,
    spinner: Option<ProgressBar>,
    interactive: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, style: Style) -> Self {
        Printer {
            format,
            style,
            spinner: None,
            interactive: format == OutputFormat::Text && std::io::stderr().is_terminal(),
        }
    }

    pub fn event(&mut self, event: Event) {
        if self.format == OutputFormat::Json {
            if let Ok(line) = serde_json::to_string(&event) {
                crate::outln!("{line}");
            }
            return;
        }
        let line = text_line(&event, self.style);
        match event.kind {
            EventKind::PhaseStarted => {
                self.finish_spinner();
                self.print(&line);
                if self.interactive {
                    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template("  {spinner} {msg} {elapsed}") {
                        spinner.set_style(style);
                    }
                    spinner.set_message(event.phase.title());
                    spinner.enable_steady_tick(Duration::from_millis(120));
                    self.spinner = Some(spinner);
                }
            }
            EventKind::PhaseDone | EventKind::PhaseSkipped => {
                self.finish_spinner();
                self.print(&line);
            }
            EventKind::Step | EventKind::Warning => self.print(&line),
        }
    }

    fn print(&self, line: &str) {
        match &self.spinner {
            Some(spinner) => spinner.suspend(|| crate::outln!("{line}")),
            None => crate::outln!("{line}"),
        }
    }

    fn finish_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    /// Prints a final JSON object (JSON mode only).
    pub fn json(&mut self, value: serde_json::Value) {
        if self.format == OutputFormat::Json {
            crate::outln!("{value}");
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    pub fn done(&mut self) {
        self.finish_spinner();
    }

    /// Ends a live operation's output: the spinner stops, and in JSON mode the error or the
    /// summary closes the stream. `Ok(None)`: the JSON summary was the last word; `Ok(Some)`:
    /// the caller prints the summary as text.
    pub fn finish<S: serde::Serialize>(
        &mut self,
        result: Result<S, LiveError>,
    ) -> Result<Option<S>, String> {
        self.done();
        let summary = match result {
            Ok(summary) => summary,
            Err(e) => {
                self.json(serde_json::json!({ "error": chain(&e) }));
                return Err(chain(&e));
            }
        };
        if self.is_json() {
            self.json(serde_json::json!({ "summary": summary }));
            return Ok(None);
        }
        Ok(Some(summary))
    }
}

/// One event as a progress line. Times are in brackets, so tests can mask them.
pub fn text_line(event: &Event, style: Style) -> String {
    let time = format!(
        "[{}]",
        human_duration(Duration::from_millis(event.elapsed_ms))
    );
    let node = event.node.as_deref().unwrap_or("");
    match event.kind {
        EventKind::PhaseStarted => format!("{} {}", style.bold("▸"), style.bold(&event.message)),
        EventKind::Step => format!("    {node:<10} {}", event.message),
        EventKind::Warning => format!(
            "    {node:<10} {} {}",
            style.yellow("warning:"),
            event.message
        ),
        EventKind::PhaseDone => format!(
            "{} {}: {} {time}",
            style.green("✓"),
            event.phase.title(),
            event.message
        ),
        EventKind::PhaseSkipped => format!(
            "{} {}: {} {time}",
            style.green("–"),
            event.phase.title(),
            event.message
        ),
    }
}

/// The per-phase timing table of a summary.
pub fn timings_table(timings: &[PhaseTiming]) -> String {
    let mut text = String::new();
    for timing in timings {
        text.push_str(&format!(
            "  {:<20} [{}]{}\n",
            timing.phase.title(),
            human_duration(Duration::from_millis(timing.elapsed_ms)),
            if timing.acted { "" } else { "  already done" }
        ));
    }
    text
}
