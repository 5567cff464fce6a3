//! `kubelab init`: write an example lab.yaml.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::InitArgs;

pub fn run(args: InitArgs) -> Result<ExitCode, String> {
    let text = kubelab_spec::examples::by_name(args.example.name())
        .ok_or_else(|| format!("no example named {}", args.example.name()))?;
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let target = args.dir.join("lab.yaml");
    if target.exists() && !args.force {
        return Err(format!(
            "{} already exists; pass --force to overwrite it",
            target.display()
        ));
    }
    // Write beside the target and rename, so an interrupted init never leaves half a file.
    let mut temp = tempfile::NamedTempFile::new_in(&args.dir)
        .map_err(|e| format!("cannot write in {}: {e}", args.dir.display()))?;
    temp.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    // The lab file holds no secrets: make it as readable as any file the user creates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    temp.persist(&target)
        .map_err(|e| format!("cannot write {}: {}", target.display(), e.error))?;
    crate::outln!(
        "wrote {} (the {} example); next: edit it, then `kubelab check {}`",
        target.display(),
        args.example.name(),
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}
