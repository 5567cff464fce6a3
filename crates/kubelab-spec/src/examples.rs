//! The example labs `kubelab init` writes, embedded in the binary.

/// The seed's home lab: 3 x86_64 control planes, Raspberry Pi CM4 workers, pfSense BGP, NAS.
pub const HOMELAB: &str = include_str!("../examples/homelab.yaml");

/// Three machines that are control planes and workers at once.
pub const MINIMAL: &str = include_str!("../examples/minimal.yaml");

/// Looks an example up by the name `kubelab init --example` takes.
pub fn by_name(name: &str) -> Option<&'static str> {
    match name {
        "homelab" => Some(HOMELAB),
        "minimal" => Some(MINIMAL),
        _ => None,
    }
}

pub const NAMES: [&str; 2] = ["homelab", "minimal"];
