//! `kubelab diagram`: the lab's topology as SVG, Graphviz DOT or Mermaid, on standard output.

use std::process::ExitCode;

use kubelab_diagram::Format;

use crate::cli::{DiagramArgs, DiagramFormat, LabArgs};
use crate::output::Style;
use crate::workspace::{LoadError, Workspace};

pub fn run(args: DiagramArgs, style: Style) -> Result<ExitCode, String> {
    let lab_args = LabArgs {
        lab: args.lab,
        secrets: None,
        identity: None,
    };
    let workspace = match Workspace::load(&lab_args, style) {
        Ok(w) => w,
        Err(LoadError::Findings) => return Ok(ExitCode::from(crate::EXIT_FINDINGS)),
        Err(LoadError::Failure(e)) => return Err(e),
    };
    let format = match args.output {
        DiagramFormat::Svg => Format::Svg,
        DiagramFormat::Dot => Format::Dot,
        DiagramFormat::Mermaid => Format::Mermaid,
    };
    crate::out!("{}", kubelab_diagram::topology(&workspace.lab, format));
    Ok(ExitCode::SUCCESS)
}
