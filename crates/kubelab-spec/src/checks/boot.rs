//! What kubelab cannot check from lab.yaml but a board needs before it boots Talos from the
//! disk lab.yaml names.

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::model::Board;

/// A SHA-256 fingerprint as Talos's console shows it: 64 hex digits (colons allowed), or the
/// 32 bytes in base64 (43 characters, 44 with padding).
pub fn is_fingerprint(text: &str) -> bool {
    let text = text.trim();
    let hex: Vec<char> = text.chars().filter(|c| *c != ':').collect();
    let is_hex = hex.len() == 64 && hex.iter().all(char::is_ascii_hexdigit);
    let unpadded = text.strip_suffix('=').unwrap_or(text);
    let is_base64 = unpadded.len() == 43
        && unpadded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
    is_hex || is_base64
}

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    for (i, node) in ctx.lab.nodes.iter().enumerate() {
        if let Some(fingerprint) = &node.maintenance_fingerprint {
            if !is_fingerprint(fingerprint) {
                out.push(
                    Diagnostic::error(
                        "bad-fingerprint",
                        format!("`{}`'s maintenanceFingerprint is not a SHA-256 fingerprint", node.name),
                    )
                    .with_label_opt(ctx.at_node(i, "maintenanceFingerprint"), "not 64 hex digits or 32 bytes of base64")
                    .with_help("copy it from the node's console in maintenance mode (hex, colons allowed), or remove it to trust the first contact"),
                );
            }
        }
        let disk = node.install.disk.as_deref().unwrap_or_default();
        if node.board == Board::RaspberryPiCm4 && disk.starts_with("/dev/nvme") {
            // A note, not a warning: nothing in lab.yaml is wrong, and `check --strict` must still
            // pass for a lab that is right; the user has to look at the hardware.
            out.push(
                Diagnostic::note(
                    "cm4-nvme-boot",
                    format!("`{}` boots Talos from NVMe on a Compute Module 4: verify the board first", node.name),
                )
                .with_label_opt(ctx.at_node(i, "install"), "NVMe install on a CM4")
                .with_help(
                    "Talos tests the CM4 only through the community; before installing, update the CM4's bootloader EEPROM and put NVMe in its BOOT_ORDER, and check that the U-Boot of the rpi_generic overlay you boot can read NVMe (stock builds may not: without it the node installs, then cannot boot from the disk)",
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn maintenance_fingerprints_are_checked() {
        assert!(super::is_fingerprint(&"ab".repeat(32)));
        assert!(super::is_fingerprint(&vec!["ab"; 32].join(":")));
        assert!(super::is_fingerprint(
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        ));
        assert!(!super::is_fingerprint("abc"));
        let lab = homelab_with(|t| {
            t.replace(
                "    interface: { name: end0 }\n    ip: 10.10.0.21\n",
                "    interface: { name: end0 }\n    ip: 10.10.0.21\n    maintenanceFingerprint: nope\n",
            )
        });
        assert!(codes(&lab).contains(&"bad-fingerprint"));
    }

    #[test]
    fn cm4_nvme_installs_say_what_to_verify() {
        let d = diagnostics(&homelab_with(|t| t));
        let notes: Vec<_> = d.iter().filter(|d| d.code == "cm4-nvme-boot").collect();
        assert_eq!(notes.len(), 3, "one per CM4 worker");
        assert!(!notes[0].is_error());
        let help = notes[0].help.as_deref().unwrap();
        assert!(help.contains("EEPROM") && help.contains("BOOT_ORDER") && help.contains("U-Boot"));
        // The same boards on SD/eMMC, and x86 machines on NVMe, need nothing.
        let emmc = homelab_with(|t| {
            t.replace(
                "install: { disk: /dev/nvme0n1 }",
                "install: { disk: /dev/mmcblk0 }",
            )
        });
        assert!(!codes(&emmc).contains(&"cm4-nvme-boot"));
        let minimal = codes(crate::examples::MINIMAL);
        assert!(!minimal.contains(&"cm4-nvme-boot"));
    }
}
