//! Machines in the lab: role, hardware, addressing and per-node overrides.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::talos::TalosOverrides;
use crate::quantity::Quantity;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    /// Hostname and Kubernetes node name (a DNS label: lower-case letters, digits, `-`).
    pub name: String,
    /// `controlplane` runs etcd and the Kubernetes control plane; `worker` runs workloads.
    pub role: Role,
    /// The hardware. Sets the CPU architecture and, for single-board computers, the Talos
    /// image overlay.
    #[serde(default)]
    pub board: Board,
    /// CPU architecture. Optional: it follows from `board`; when given it must agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    /// Where Talos installs itself.
    pub install: Install,
    /// The network interface Talos configures (by name or MAC address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<Interface>,
    /// Static IPv4 address on the node subnet. Omit it and set `dhcp: true` for DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// Take the address from DHCP instead of `ip` (BGP speakers and control planes need a
    /// stable address: reserve it on the DHCP server).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dhcp: bool,
    /// CPU cores.
    pub cpu: u32,
    /// Installed memory, as a quantity (`16Gi`).
    pub memory: Quantity,
    /// Extra Kubernetes node labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Kubernetes node taints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Whether this node offers local-path storage (the seed keeps it on workers only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local_storage: bool,
    /// Talos patches and extra documents for this node only, applied after cluster and role
    /// patches.
    #[serde(default, skip_serializing_if = "TalosOverrides::is_empty")]
    pub talos: TalosOverrides,
    /// SHA-256 fingerprint of the node's maintenance-mode API key, as Talos shows it on the
    /// console (hex, colons allowed, or base64). `kubelab up` trusts that key only; without
    /// it the first contact is trust-on-first-use, with a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_fingerprint: Option<String>,
}

impl Node {
    /// The architecture, explicit or implied by the board.
    pub fn effective_arch(&self) -> Arch {
        self.arch.unwrap_or_else(|| self.board.arch())
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Controlplane,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Controlplane => "controlplane",
            Role::Worker => "worker",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// Supported hardware. Raspberry Pi boards boot Talos through the `rpi_generic` overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum Board {
    /// Any UEFI/BIOS x86_64 machine (mini PC, server, VM).
    #[default]
    #[serde(rename = "generic-amd64")]
    GenericAmd64,
    /// Any UEFI arm64 machine (Ampere, arm64 VM).
    #[serde(rename = "generic-arm64")]
    GenericArm64,
    /// Raspberry Pi Compute Module 4 (arm64), e.g. on a carrier board with NVMe.
    #[serde(rename = "rpi-cm4")]
    RaspberryPiCm4,
    /// Raspberry Pi 4 Model B (arm64).
    #[serde(rename = "rpi-4")]
    RaspberryPi4,
}

impl Board {
    pub fn arch(self) -> Arch {
        match self {
            Board::GenericAmd64 => Arch::Amd64,
            Board::GenericArm64 | Board::RaspberryPiCm4 | Board::RaspberryPi4 => Arch::Arm64,
        }
    }

    pub fn is_raspberry_pi(self) -> bool {
        matches!(self, Board::RaspberryPiCm4 | Board::RaspberryPi4)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Board::GenericAmd64 => "generic-amd64",
            Board::GenericArm64 => "generic-arm64",
            Board::RaspberryPiCm4 => "rpi-cm4",
            Board::RaspberryPi4 => "rpi-4",
        }
    }
}

/// The install target: a device path or a selector, exactly one of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Install {
    /// Whole-disk device path, such as `/dev/nvme0n1` or `/dev/sda`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    /// Pick the disk by its properties instead of its path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_selector: Option<DiskSelector>,
    /// Wipe the disk before installing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wipe: bool,
}

/// Talos `machine.install.diskSelector`: every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiskSelector {
    /// Disk type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<DiskType>,
    /// Size, exact (`128GB`) or a comparison (`>= 100GB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Disk model (glob).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Disk serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// World-wide identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wwid: Option<String>,
    /// Bus path (glob), such as `/pci0000:00/*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus_path: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiskType {
    Nvme,
    Ssd,
    Hdd,
    Sd,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Interface {
    /// Kernel link name, such as `eth0` or `enp1s0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Permanent MAC address (`aa:bb:cc:dd:ee:ff`); preferred, since link names can change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"))]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}
