//! Deterministic generated labs of any size, for benchmarks and scale tests: three control
//! planes, then workers alternating Raspberry Pi CM4 and x86_64 machines.

use std::fmt::Write;

/// A valid lab with `nodes` nodes (at least 4: three control planes and a BGP-speaking worker). With `duplicate_every`, every n-th worker
/// reuses the previous worker's address, to exercise the error path.
pub fn lab_yaml(nodes: usize, duplicate_every: Option<usize>) -> String {
    let nodes = nodes.max(4);
    let mut y = String::with_capacity(nodes * 260);
    y.push_str(
        "apiVersion: kubelab.dev/v1alpha1\nkind: Lab\nmetadata:\n  name: scale\nnetwork:\n  subnet: 10.0.0.0/16\n  gateway: 10.0.0.1\n  controlPlaneVip: 10.0.0.10\nnodes:\n",
    );
    let address = |i: usize| format!("10.0.{}.{}", 1 + i / 250, 1 + i % 250);
    for i in 0..nodes {
        let mut ip = address(i);
        if let Some(every) = duplicate_every {
            if i > 3 && i % every == 0 {
                ip = address(i - 1);
            }
        }
        let mac = format!(
            "02:00:00:{:02x}:{:02x}:{:02x}",
            (i >> 16) & 0xff,
            (i >> 8) & 0xff,
            i & 0xff
        );
        if i < 3 {
            let _ = writeln!(
                y,
                "  - name: cp-{i:04}\n    role: controlplane\n    install: {{ disk: /dev/nvme0n1 }}\n    interface: {{ mac: \"{mac}\" }}\n    ip: {ip}\n    cpu: 4\n    memory: 16Gi"
            );
        } else if i % 2 == 0 {
            let _ = writeln!(
                y,
                "  - name: pi-{i:04}\n    role: worker\n    board: rpi-cm4\n    install: {{ disk: /dev/nvme0n1 }}\n    interface: {{ mac: \"{mac}\" }}\n    ip: {ip}\n    cpu: 4\n    memory: 8Gi\n    localStorage: true\n    labels: {{ kubelab.dev/zone: rack-{} }}",
                i % 7
            );
        } else {
            let _ = writeln!(
                y,
                "  - name: x86-{i:04}\n    role: worker\n    install: {{ disk: /dev/sda }}\n    interface: {{ mac: \"{mac}\" }}\n    ip: {ip}\n    cpu: 8\n    memory: 32Gi\n    taints: [{{ key: dedicated, value: batch, effect: NoSchedule }}]"
            );
        }
    }
    y.push_str(
        "router: { name: edge, kind: pfsense, address: 10.0.0.1, asn: 64512 }\n\
         bgp: { asn: 64513 }\n\
         loadBalancer:\n  pools:\n    - { name: default, blocks: [{ cidr: 10.1.0.0/24 }] }\n\
         nas:\n  name: nas\n  address: 10.0.0.5\n  exports:\n    - { name: backups, path: /volume1/backups, capacity: 1Ti }\n  s3: { url: \"http://10.0.0.5:3900\", bucket: velero }\n\
         backup: { etcd: { export: backups }, velero: { enabled: true } }\n",
    );
    y
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_labs_are_valid_until_told_otherwise() {
        for n in [4, 10, 1000] {
            let checked = crate::check_bytes("scale.yaml", super::lab_yaml(n, None).as_bytes());
            assert_eq!(
                checked.error_count(),
                0,
                "{n} nodes: {:?}",
                checked.diagnostics.first()
            );
            assert_eq!(checked.lab.unwrap().nodes.len(), n);
        }
        // For measuring the binary end to end: `KUBELAB_WRITE_GENERATED=/tmp/scale.yaml cargo test generate`.
        if let Some(path) = std::env::var_os("KUBELAB_WRITE_GENERATED") {
            std::fs::write(path, super::lab_yaml(1000, None)).unwrap();
        }
        let broken = crate::check_bytes("scale.yaml", super::lab_yaml(1000, Some(10)).as_bytes());
        assert!(
            broken
                .diagnostics
                .iter()
                .filter(|d| d.code == "duplicate-ip")
                .count()
                > 90
        );
    }
}
