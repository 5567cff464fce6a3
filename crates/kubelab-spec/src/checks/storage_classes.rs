//! Every StorageClass a rendered object names must exist: a claim on a missing class stays
//! Pending forever, and whatever waits on it (Prometheus) with it.

use super::Context;
use crate::diagnostic::Diagnostic;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let lab = ctx.lab;
    if !lab.monitoring.enabled {
        return;
    }
    let classes = lab.storage_classes();
    match lab.prometheus_storage_class() {
        Some(class) if !classes.contains(&class) => {
            let known = if classes.is_empty() {
                "this lab has no StorageClass".to_string()
            } else {
                format!("this lab's StorageClasses: {}", classes.join(", "))
            };
            out.push(
                Diagnostic::error(
                    "unknown-storage-class",
                    format!("Prometheus' volume asks for StorageClass `{class}`, which nothing creates"),
                )
                .with_label_opt(ctx.at("/monitoring/storageClass"), "no such StorageClass")
                .with_help(format!(
                    "{known}; a class the cluster already has goes under `storage.existingClasses`"
                )),
            );
        }
        Some(_) => {}
        None => out.push(
            Diagnostic::note(
                "prometheus-without-volume",
                "Prometheus keeps its metrics in an emptyDir: they are lost when its pod moves",
            )
            .with_label_opt(ctx.key("/monitoring").or(ctx.key("/storage")), "no StorageClass for Prometheus")
            .with_help("enable local-path or nfsCsi, or set `monitoring.storageClass` to a class listed in `storage.existingClasses`"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    fn minimal_with(edit: impl FnOnce(String) -> String) -> String {
        edit(crate::examples::MINIMAL.to_string())
    }

    #[test]
    fn prometheus_on_a_class_nothing_creates_is_an_error() {
        let lab = minimal_with(|t| format!("{t}\nmonitoring:\n  storageClass: local-path\n"));
        let d = diagnostics(&lab);
        let e = d
            .iter()
            .find(|d| d.code == "unknown-storage-class")
            .expect("reported");
        assert!(e.is_error());
        assert!(e.message.contains("`local-path`"), "{}", e.message);
        // Declared as existing: fine.
        let declared = minimal_with(|t| {
            format!("{t}\nmonitoring:\n  storageClass: ceph-rbd\n")
                .replace("storage:\n", "storage:\n  existingClasses: [ceph-rbd]\n")
        });
        assert!(
            !codes(&declared).contains(&"unknown-storage-class"),
            "{:?}",
            codes(&declared)
        );
        // The homelab's local-path class exists.
        assert!(!codes(&homelab_with(|t| t)).contains(&"unknown-storage-class"));
    }

    #[test]
    fn no_class_at_all_falls_back_to_an_emptydir_with_a_note() {
        let d = diagnostics(crate::examples::MINIMAL);
        let n = d
            .iter()
            .find(|d| d.code == "prometheus-without-volume")
            .expect("noted");
        assert!(!n.is_error());
        assert!(!codes(&homelab_with(|t| t)).contains(&"prometheus-without-volume"));
    }
}
