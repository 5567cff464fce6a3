//! kubelab: declarative home-lab Kubernetes from one lab.yaml.
//!
//! The binary is glue: argument parsing, output formatting and exit codes. The logic lives in
//! the library crates.

mod cli;
mod commands;
mod workspace;
mod write_tree;

// The shared pieces live in the library (so benchmarks can reach them); importing them here
// keeps every `crate::output`, `crate::report` and `crate::out!` path in the commands working.
use kubelab::{lab_file, out, outln, output, report};

use std::process::ExitCode;

use clap::Parser;

/// Exit codes: findings about the user's input are 1, usage and tool failures are 2.
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_FAILURE: u8 = 2;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let style = output::Style::detect(cli.color);
    let result = match cli.command {
        cli::Command::Init(args) => commands::init::run(args),
        cli::Command::Check(args) => commands::check::run(args, style),
        cli::Command::Render(args) => commands::render::run(args, style),
        cli::Command::Secrets(command) => commands::secrets::run(command, style),
        cli::Command::Lint(args) => commands::lint::run(args, style),
        cli::Command::Plan(args) => commands::plan::run(args, style),
        cli::Command::Diagram(args) => commands::diagram::run(args, style),
        cli::Command::Up(args) => commands::up::run(args, style),
        cli::Command::Down(args) => commands::down::run(args, style),
        cli::Command::Diff(args) => commands::diff::run(args, style),
        cli::Command::Status(args) => commands::status::run(args, style),
        cli::Command::Doctor(args) => commands::doctor::run(args, style),
        cli::Command::Schema(args) => commands::schema::run(args),
        cli::Command::Completions(args) => commands::completions::run(args),
        cli::Command::Backup(args) => commands::backup::run(args, style),
        cli::Command::Restore(args) => commands::restore::run(args, style),
        cli::Command::Drill(args) => commands::drill::run(args, style),
        cli::Command::Upgrade(args) => commands::upgrade::run(args, style),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", style.error_line(&e));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
