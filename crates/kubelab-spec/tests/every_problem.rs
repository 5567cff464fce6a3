//! `check` reports every problem at once, each precisely: structural mistakes do not hide the
//! semantic ones, nested mistakes name their exact field, values the components would reject
//! are caught, and every pair of addresses that collide is reported once.

use kubelab_spec::{check_bytes, examples::HOMELAB, Checked, Diagnostic};

fn check(text: &str) -> Checked {
    check_bytes("lab.yaml", text.as_bytes())
}

fn codes(checked: &Checked) -> Vec<&'static str> {
    checked.diagnostics.iter().map(|d| d.code).collect()
}

fn line_of(checked: &Checked, d: &Diagnostic) -> usize {
    let span = d.primary_span().expect("located");
    checked.source.line_col(span.start).line
}

/// 1-based line of the first line containing `needle`.
fn line_containing(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is in the lab"))
        + 1
}

fn homelab(edits: &[(&str, &str)]) -> String {
    let mut text = HOMELAB.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the example has `{from}`");
        text = text.replacen(from, to, 1);
    }
    text
}

// 1. Structural errors do not stop the semantic checks.

#[test]
fn a_typo_and_a_duplicate_address_are_both_reported() {
    let lab = homelab(&[
        ("controlPlaneVip: 10.10.0.10", "controlplaneVIP: 10.10.0.10"),
        ("ip: 10.10.0.22", "ip: 10.10.0.21"),
    ]);
    let checked = check(&lab);
    let c = codes(&checked);
    assert!(c.contains(&"unknown-field"), "{c:?}");
    assert!(c.contains(&"duplicate-ip"), "{c:?}");
    // The misspelt VIP is not "missing": no warning about a lab without one.
    assert!(!c.contains(&"no-vip"), "{c:?}");
    assert!(checked.lab.is_none(), "a partial lab is not handed out");
}

#[test]
fn a_broken_node_is_left_out_without_inventing_problems() {
    // worker-03 is the only node with local storage and the only BGP speaker; its role is
    // misspelt, so it cannot be read. Without it, "no storage node", "unknown speaker" and
    // "no speaker" would be false; the duplicate address elsewhere is real.
    let lab = homelab(&[
        ("memory: 8Gi\n    localStorage: true", "memory: 8Gi"),
        ("memory: 8Gi\n    localStorage: true", "memory: 8Gi"),
        (
            "name: worker-03\n    role: worker",
            "name: worker-03\n    role: wroker",
        ),
        ("roles: [worker]", "roles: []\n    nodes: [worker-03]"),
        ("ip: 10.10.0.22", "ip: 10.10.0.21"),
    ]);
    let checked = check(&lab);
    let c = codes(&checked);
    assert!(
        c.contains(&"invalid-value") && c.contains(&"duplicate-ip"),
        "{c:?}"
    );
    for cascade in [
        "unknown-node",
        "no-bgp-speakers",
        "local-path-without-nodes",
    ] {
        assert!(!c.contains(&cascade), "{cascade} in {c:?}");
    }
}

#[test]
fn a_node_with_a_wrong_type_still_gets_its_collisions_reported() {
    let lab = homelab(&[
        ("cpu: 4", "cpu: four"),
        ("ip: 10.10.0.22", "ip: 10.10.0.21"),
    ]);
    let checked = check(&lab);
    let c = codes(&checked);
    assert!(
        c.contains(&"wrong-type") && c.contains(&"duplicate-ip"),
        "{c:?}"
    );
    // The unreadable node was a control plane: two are left, which must not read as "even".
    assert!(!c.contains(&"even-control-planes"), "{c:?}");
}

#[test]
fn a_dropped_optional_section_does_not_read_as_absent() {
    let lab = homelab(&[
        ("interface: { name: end0 }", "interface: { mac: \"zz:bb\" }"),
        ("asn: 64512", "asn: 64512\n  asm: 3"),
        ("ip: 10.10.0.22", "ip: 10.10.0.21"),
    ]);
    let checked = check(&lab);
    let c = codes(&checked);
    assert!(c.contains(&"duplicate-ip"), "{c:?}");
    assert!(!c.contains(&"no-interface"), "{c:?}");
    assert!(!c.contains(&"bgp-without-router"), "{c:?}");
}

// 2. Mistakes inside nested sections name their exact field, at its line.

#[test]
fn nested_mistakes_name_the_field_not_the_section() {
    let lab = homelab(&[
        ("asn: 64512", "asn: 64512\n  asm: 3"),
        ("bucket: velero", "buckt: velero"),
        ("name: worker-03\n    role: worker\n    board: rpi-cm4\n    install: { disk: /dev/nvme0n1 }\n    interface: { name: end0 }", "name: worker-03\n    role: worker\n    board: rpi-cm4\n    install: { disk: /dev/nvme0n1 }\n    interface: { mac: \"zz:bb:cc\" }"),
        ("mtu: 1500", "mtu: 100"),
        ("- cidr: 10.10.100.0/26", "- cidr: 10.10.100.0/33"),
        ("podSecurity: restricted\n  defaultDeny: true\n  namespaces:\n    - name: production", "podSecurity: restricted\n  defaultDeny: true\n  namespaces:\n    - name: production\n      podSecurity: strict"),
    ]);
    let checked = check(&lab);
    let messages: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| format!("{}: {} / {:?}", d.code, d.message, d.help))
        .collect();
    assert!(
        !messages.iter().any(|m| m.contains("has an invalid value")),
        "{messages:#?}"
    );
    let find = |needle: &str| {
        checked
            .diagnostics
            .iter()
            .find(|d| d.message.contains(needle))
            .unwrap_or_else(|| panic!("`{needle}` in {messages:#?}"))
    };
    let asm = find("unknown field `asm` in `router`");
    assert_eq!(asm.help.as_deref(), Some("did you mean `asn`?"));
    assert_eq!(line_of(&checked, asm), line_containing(&lab, "asm: 3"));
    let bucket = find("unknown field `buckt` in `nas.s3`");
    assert_eq!(bucket.help.as_deref(), Some("did you mean `bucket`?"));
    let mac = find("`interface.mac` of node `worker-03`");
    assert!(mac.message.contains("MAC address"), "{}", mac.message);
    assert!(mac.help.is_some());
    assert_eq!(line_of(&checked, mac), line_containing(&lab, "zz:bb:cc"));
    let mtu = find("`network.mtu` is 100");
    assert_eq!(mtu.code, "out-of-range");
    assert!(
        mtu.help.as_deref().unwrap().contains("1280 to 9216"),
        "{:?}",
        mtu.help
    );
    let cidr = find("10.10.100.0/33");
    assert!(cidr.message.contains("IPv4 prefix"), "{}", cidr.message);
    assert_eq!(
        line_of(&checked, cidr),
        line_containing(&lab, "10.10.100.0/33")
    );
    let level = find("`strict`");
    assert!(level.help.as_deref().unwrap().contains("restricted"));
}

#[test]
fn wrong_types_in_nodes_name_the_node_and_say_what_to_write() {
    let lab = homelab(&[("cpu: 4", "cpu: four")]);
    let checked = check(&lab);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == "wrong-type")
        .expect("reported");
    assert_eq!(
        d.message,
        "`cpu` of node `master-01` must be a whole number, not the string `four`"
    );
    assert!(d
        .help
        .as_deref()
        .unwrap()
        .starts_with("write a whole number"));
}

// 3. Values the components would reject.

#[test]
fn schedules_and_durations_components_reject_are_reported_at_their_line() {
    let lab = homelab(&[
        ("schedule: \"0 3 * * *\"", "schedule: \"0 3 * *\""),
        ("ttl: 720h", "ttl: 30d"),
        ("retention: 15d", "retention: 15days"),
    ]);
    let checked = check(&lab);
    let ttl = checked
        .diagnostics
        .iter()
        .find(|d| d.message.contains("ttl"))
        .expect("ttl reported");
    assert_eq!(ttl.code, "invalid-duration");
    assert!(ttl.help.as_deref().unwrap().contains("`720h`"));
    assert_eq!(line_of(&checked, ttl), line_containing(&lab, "ttl: 30d"));
    let schedule = checked
        .diagnostics
        .iter()
        .find(|d| d.code == "invalid-schedule")
        .expect("schedule reported");
    assert!(
        schedule.message.contains("5 fields"),
        "{}",
        schedule.message
    );
    assert_eq!(
        line_of(&checked, schedule),
        line_containing(&lab, "\"0 3 * *\"")
    );
    let retention = checked
        .diagnostics
        .iter()
        .find(|d| d.message.contains("retention"))
        .expect("retention reported");
    assert_eq!(
        line_of(&checked, retention),
        line_containing(&lab, "15days")
    );
}

// 4. Every pair of addresses.

/// A lab where every owner of an address has its own, each on a line marked `# @owner`.
const ADDRESSES: &str = "apiVersion: kubelab.dev/v1alpha1
kind: Lab
metadata:
  name: lab
network:
  subnet: 10.0.0.0/24
  gateway: 10.0.0.1 # @gateway
  dns: [10.0.0.3] # @dns
  controlPlaneVip: 10.0.0.10 # @vip
nodes:
  - { name: cp-1, role: controlplane, install: { disk: /dev/sda }, interface: { name: enp1s0 }, ip: 10.0.0.11, cpu: 4, memory: 16Gi } # @node-a
  - { name: cp-2, role: controlplane, install: { disk: /dev/sda }, interface: { name: enp1s0 }, ip: 10.0.0.12, cpu: 4, memory: 16Gi } # @node-b
  - { name: cp-3, role: controlplane, install: { disk: /dev/sda }, interface: { name: enp1s0 }, ip: 10.0.0.13, cpu: 4, memory: 16Gi }
  - { name: worker-01, role: worker, install: { disk: /dev/sda }, interface: { name: enp1s0 }, ip: 10.0.0.21, cpu: 4, memory: 16Gi, localStorage: true }
router: { name: edge, kind: pfsense, address: 10.0.0.2, asn: 64512 } # @router
bgp: { asn: 64513 }
loadBalancer:
  pools:
    - { name: default, blocks: [{ cidr: 10.0.100.0/26 }] }
nas:
  name: nas
  address: 10.0.0.5 # @nas
  exports:
    - { name: backups, path: /volume1/backups, capacity: 1Ti }
  s3: { url: \"http://10.0.0.6:3900\", bucket: velero } # @s3
backup: { etcd: { export: backups }, velero: { enabled: true } }
";

const OWNERS: [(&str, &str); 8] = [
    ("gateway", "10.0.0.1"),
    ("dns", "10.0.0.3"),
    ("vip", "10.0.0.10"),
    ("node-a", "10.0.0.11"),
    ("node-b", "10.0.0.12"),
    ("router", "10.0.0.2"),
    ("nas", "10.0.0.5"),
    ("s3", "10.0.0.6"),
];

/// Gives `owner` the address `to` on its marked line.
fn readdress(text: &str, owner: &str, to: &str) -> String {
    let (_, from) = OWNERS.iter().find(|(o, _)| *o == owner).unwrap();
    let marker = format!("# @{owner}");
    text.lines()
        .map(|l| {
            if l.ends_with(&marker) {
                l.replacen(from, to, 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

const COLLISIONS: [&str; 4] = [
    "duplicate-ip",
    "vip-is-node-ip",
    "vip-is-gateway",
    "address-conflict",
];

#[test]
fn the_address_lab_is_clean() {
    let checked = check(ADDRESSES);
    assert_eq!(checked.error_count(), 0, "{:#?}", checked.diagnostics);
}

#[test]
fn every_pair_of_owners_on_one_address_gives_one_error_at_the_later_place() {
    // Who may share: the router is usually the gateway and the resolver; the NAS may serve
    // S3 and DNS.
    let may_share = |a: &str, b: &str| {
        let pair = |x: &str, y: &str| (a == x && b == y) || (a == y && b == x);
        pair("gateway", "router")
            || pair("gateway", "dns")
            || pair("router", "dns")
            || pair("nas", "s3")
            || pair("nas", "dns")
            || pair("s3", "dns")
    };
    for (i, (first, _)) in OWNERS.iter().enumerate() {
        for (second, _) in &OWNERS[i + 1..] {
            let text = readdress(
                &readdress(ADDRESSES, first, "10.0.0.99"),
                second,
                "10.0.0.99",
            );
            let checked = check(&text);
            let found: Vec<&Diagnostic> = checked
                .diagnostics
                .iter()
                .filter(|d| COLLISIONS.contains(&d.code))
                .collect();
            if may_share(first, second) {
                assert!(found.is_empty(), "{first} + {second}: {found:#?}");
                continue;
            }
            assert_eq!(
                found.len(),
                1,
                "{first} + {second}: {:#?}",
                checked.diagnostics
            );
            let line_a = line_containing(&text, &format!("# @{first}"));
            let line_b = line_containing(&text, &format!("# @{second}"));
            let d = found[0];
            assert_eq!(
                line_of(&checked, d),
                line_a.max(line_b),
                "{first} + {second}: {d:#?}"
            );
            assert_eq!(d.labels.len(), 2, "names the other place too: {d:#?}");
            let other = checked.source.line_col(d.labels[1].span.start).line;
            assert_eq!(other, line_a.min(line_b), "{first} + {second}");
            assert!(d.message.contains("10.0.0.99"), "{}", d.message);
        }
    }
}

#[test]
fn every_owner_inside_a_pool_is_reported() {
    // A pool inside the node subnet (which is its own error, `overlapping-ranges`).
    let pooled = ADDRESSES.replace("cidr: 10.0.100.0/26", "start: 10.0.0.200, stop: 10.0.0.210");
    for (owner, _) in OWNERS {
        let text = readdress(&pooled, owner, "10.0.0.205");
        let checked = check(&text);
        let found: Vec<&Diagnostic> = checked
            .diagnostics
            .iter()
            .filter(|d| d.code == "pool-contains-host")
            .collect();
        assert_eq!(found.len(), 1, "{owner}: {:#?}", checked.diagnostics);
        assert!(found[0].message.contains("10.0.0.205"));
    }
    let clean = check(&pooled);
    assert!(!codes(&clean).contains(&"pool-contains-host"));
}

#[test]
fn many_nodes_on_one_address_give_one_error_each() {
    let mut text = String::from(ADDRESSES);
    let extra: String = (0..50)
        .map(|i| format!("  - {{ name: w-{i}, role: worker, install: {{ disk: /dev/sda }}, interface: {{ name: enp1s0 }}, ip: 10.0.0.21, cpu: 4, memory: 16Gi }}\n"))
        .collect();
    text = text.replace("router: {", &format!("{extra}router: {{"));
    let checked = check(&text);
    let dupes = codes(&checked)
        .iter()
        .filter(|c| **c == "duplicate-ip")
        .count();
    assert_eq!(dupes, 50);
}
