//! Boards, architectures, install disks and sizes: mistakes that surface only when a machine
//! fails to boot.

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::model::Board;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    for (i, node) in ctx.lab.nodes.iter().enumerate() {
        // A board dropped for a structural error reads as the default board.
        let board_known = ctx.known(&format!("/nodes/{i}/board"));
        if let Some(arch) = node.arch {
            if arch != node.board.arch() && board_known {
                out.push(
                    Diagnostic::error(
                        "board-arch-mismatch",
                        format!(
                            "node `{}` is a {} board, which is {}, not {}",
                            node.name,
                            node.board.as_str(),
                            node.board.arch().as_str(),
                            arch.as_str()
                        ),
                    )
                    .with_label_opt(
                        ctx.at_node(i, "arch"),
                        format!("{} does not fit", arch.as_str()),
                    )
                    .with_label_opt(ctx.at_node(i, "board"), "board")
                    .with_help(format!(
                        "remove `arch` (it follows from the board) or set it to {}",
                        node.board.arch().as_str()
                    )),
                );
            }
        }
        install_disk(ctx, out, i);
        if node.cpu == 0 {
            out.push(
                Diagnostic::error("no-cpu", format!("node `{}` has 0 CPU cores", node.name))
                    .with_label_opt(ctx.at_node(i, "cpu"), "must be at least 1")
                    .with_help("give the number of CPU cores the machine has"),
            );
        }
        match node.memory.value() {
            None => out.push(invalid_quantity(
                ctx.at_node(i, "memory"),
                node.memory.as_str(),
            )),
            Some(bytes) if bytes < 2.0 * GIB => out.push(
                Diagnostic::error(
                    "too-little-memory",
                    format!(
                        "node `{}` has {} of memory; Talos needs at least 2 GiB",
                        node.name,
                        crate::quantity::format_bytes(bytes)
                    ),
                )
                .with_label_opt(ctx.at_node(i, "memory"), "too small")
                .with_help("check the unit: `8Gi` means 8 GiB, `8` means 8 bytes"),
            ),
            Some(_) => {}
        }
    }
}

const GIB: f64 = 1_073_741_824.0;

pub(super) fn invalid_quantity(span: Option<crate::ByteSpan>, text: &str) -> Diagnostic {
    Diagnostic::error("invalid-quantity", format!("`{text}` is not a Kubernetes quantity"))
        .with_label_opt(span, "invalid quantity")
        .with_help("write a number with a unit such as 16Gi, 512Mi or 100G (Gi = 2^30 bytes, G = 10^9); units are case-sensitive")
}

fn install_disk(ctx: &Context, out: &mut Vec<Diagnostic>, i: usize) {
    let node = &ctx.lab.nodes[i];
    let install = &node.install;
    if !ctx.known(&format!("/nodes/{i}/install")) {
        return;
    }
    match (&install.disk, &install.disk_selector) {
        (Some(_), Some(_)) => out.push(
            Diagnostic::error(
                "install-disk-ambiguous",
                format!(
                    "node `{}` sets both `install.disk` and `install.diskSelector`",
                    node.name
                ),
            )
            .with_label_opt(ctx.at_node(i, "install"), "keep one")
            .with_help("use a device path, or a selector, not both"),
        ),
        (None, None) => out.push(
            Diagnostic::error(
                "install-disk-missing",
                format!("node `{}` does not say where to install Talos", node.name),
            )
            .with_label_opt(ctx.at_node(i, "install"), "needs `disk` or `diskSelector`")
            .with_help(format!(
                "add `disk: {}` or a `diskSelector`",
                typical_disk(node.board)
            )),
        ),
        (Some(disk), None) => {
            let span = ctx.at_node(i, "install/disk");
            if !disk.starts_with("/dev/") {
                out.push(
                    Diagnostic::error(
                        "install-disk-path",
                        format!("`{disk}` is not a device path"),
                    )
                    .with_label_opt(span, "expected /dev/…")
                    .with_help(format!(
                        "write the whole-disk device, such as `{}`",
                        typical_disk(node.board)
                    )),
                );
            } else if is_partition(disk) {
                out.push(
                    Diagnostic::error(
                        "install-disk-partition",
                        format!("`{disk}` is a partition; Talos installs to a whole disk"),
                    )
                    .with_label_opt(span, "a partition")
                    .with_help(format!(
                        "use the disk itself, such as `{}`",
                        whole_disk(disk)
                    )),
                );
            } else if let Some(why) = implausible_for_board(node.board, disk) {
                out.push(
                    Diagnostic::warning("install-disk-implausible", format!("`{disk}` is unusual for a {} board: {why}", node.board.as_str()))
                        .with_label_opt(span, "check this device")
                        .with_help(format!("a {} usually installs to `{}`; `talosctl get disks --insecure -n <ip>` lists what the machine sees", node.board.as_str(), typical_disk(node.board))),
                );
            }
        }
        (None, Some(_)) => {}
    }
}

fn typical_disk(board: Board) -> &'static str {
    match board {
        Board::RaspberryPiCm4 => "/dev/nvme0n1",
        Board::RaspberryPi4 => "/dev/mmcblk0",
        Board::GenericAmd64 | Board::GenericArm64 => "/dev/sda",
    }
}

/// `/dev/sda1`, `/dev/nvme0n1p2`, `/dev/mmcblk0p1` are partitions.
fn is_partition(disk: &str) -> bool {
    let name = disk.trim_start_matches("/dev/");
    if name.starts_with("nvme") || name.starts_with("mmcblk") || name.starts_with("loop") {
        return name.rsplit_once('p').is_some_and(|(head, tail)| {
            !tail.is_empty()
                && tail.chars().all(|c| c.is_ascii_digit())
                && head.ends_with(|c: char| c.is_ascii_digit())
        });
    }
    if name.starts_with("sd")
        || name.starts_with("vd")
        || name.starts_with("xvd")
        || name.starts_with("hd")
    {
        return name.ends_with(|c: char| c.is_ascii_digit());
    }
    false
}

fn whole_disk(partition: &str) -> String {
    let name = partition.trim_start_matches("/dev/");
    let disk = if name.starts_with("nvme") || name.starts_with("mmcblk") || name.starts_with("loop")
    {
        name.rsplit_once('p').map_or(name, |(head, _)| head)
    } else {
        name.trim_end_matches(|c: char| c.is_ascii_digit())
    };
    format!("/dev/{disk}")
}

fn implausible_for_board(board: Board, disk: &str) -> Option<&'static str> {
    let name = disk.trim_start_matches("/dev/");
    let virtio = name.starts_with("vd") || name.starts_with("xvd");
    match board {
        _ if board.is_raspberry_pi() && virtio => {
            Some("virtual disks exist only in virtual machines")
        }
        Board::RaspberryPi4 if name.starts_with("nvme") => {
            Some("a Raspberry Pi 4 has no NVMe slot (only the CM4 on a carrier board does)")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn cm4_declared_amd64_is_an_error() {
        let lab = homelab_with(|t| {
            t.replacen(
                "    board: rpi-cm4\n",
                "    board: rpi-cm4\n    arch: amd64\n",
                1,
            )
        });
        assert!(codes(&lab).contains(&"board-arch-mismatch"));
        let lab = homelab_with(|t| {
            t.replacen(
                "    board: rpi-cm4\n",
                "    board: rpi-cm4\n    arch: arm64\n",
                1,
            )
        });
        assert!(!codes(&lab).contains(&"board-arch-mismatch"));
    }

    #[test]
    fn partitions_and_odd_disks_are_flagged() {
        assert!(
            is_partition("/dev/nvme0n1p1")
                && is_partition("/dev/sda2")
                && is_partition("/dev/mmcblk0p1")
        );
        assert!(
            !is_partition("/dev/nvme0n1")
                && !is_partition("/dev/sda")
                && !is_partition("/dev/mmcblk0")
        );
        assert_eq!(whole_disk("/dev/nvme0n1p3"), "/dev/nvme0n1");
        let lab = homelab_with(|t| {
            t.replacen("install: { disk: /dev/nvme0n1 }\n    interface: { name: end0 }\n    ip: 10.10.0.21", "install: { disk: /dev/vda }\n    interface: { name: end0 }\n    ip: 10.10.0.21", 1)
        });
        assert!(codes(&lab).contains(&"install-disk-implausible"));
        let lab = homelab_with(|t| t.replacen("disk: /dev/nvme0n1", "disk: /dev/nvme0n1p1", 1));
        assert!(codes(&lab).contains(&"install-disk-partition"));
    }

    #[test]
    fn memory_must_be_a_plausible_quantity() {
        let c = codes(&homelab_with(|t| {
            t.replacen("memory: 8Gi", "memory: 8GB", 1)
        }));
        assert!(c.contains(&"invalid-quantity"), "{c:?}");
        let c = codes(&homelab_with(|t| t.replacen("memory: 8Gi", "memory: 8", 1)));
        assert!(c.contains(&"too-little-memory"), "{c:?}");
    }
}
