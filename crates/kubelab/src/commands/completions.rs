//! `kubelab completions <shell>`.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> Result<ExitCode, String> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "kubelab",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}
