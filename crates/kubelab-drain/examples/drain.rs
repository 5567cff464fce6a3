//! Drains a node of the cluster the current kubeconfig points at, printing what happens, as
//! `kubelab upgrade` does before it upgrades the node; `--uncordon` makes it schedulable again.
//!
//!     cargo run -p kubelab-drain --example drain -- NODE [--timeout SECS] [--force] [--delete-emptydir-data]
//!     cargo run -p kubelab-drain --example drain -- NODE --uncordon

use std::process::ExitCode;
use std::time::Duration;

use kubelab_drain::{client, drain, uncordon, DrainOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(node) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!(
            "usage: drain NODE [--uncordon] [--timeout SECS] [--force] [--delete-emptydir-data]"
        );
        return ExitCode::from(2);
    };
    let mut options = DrainOptions::default();
    let mut undo = false;
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--uncordon" => undo = true,
            "--force" => options.force_unmanaged = true,
            "--delete-emptydir-data" => options.delete_emptydir_data = true,
            "--timeout" => match rest.next().and_then(|s| s.parse().ok()) {
                Some(secs) => options.timeout = Duration::from_secs(secs),
                None => {
                    eprintln!("--timeout wants whole seconds");
                    return ExitCode::from(2);
                }
            },
            other => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let client = match kube::Config::infer().await.map_err(|e| e.to_string()) {
        Ok(config) => match client(config) {
            Ok(client) => client,
            Err(e) => return fail(&e),
        },
        Err(e) => {
            eprintln!("no kubeconfig: {e}");
            return ExitCode::from(2);
        }
    };
    if undo {
        return match uncordon(&client, node).await {
            Ok(true) => {
                println!("node {node} uncordoned");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                println!("node {node} was not cordoned");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    match drain(&client, node, &options, &mut |event| println!("{event}")).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// The error and each of its causes, once each.
fn fail(error: &dyn std::error::Error) -> ExitCode {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::from(1)
}
