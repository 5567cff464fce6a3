//! BGP failover against the real software: FRR loads the rendered `frr.conf` unchanged, and one
//! GoBGP speaker per BGP node (GoBGP is the library Cilium's BGP control plane runs) is
//! configured from the rendered Cilium objects. Everything lives in network namespaces this
//! test creates: a switch namespace with a bridge, the router's and one per speaker. The lab's
//! own addresses are used, but only inside those namespaces.
//!
//! Two failures are played, because they must behave differently:
//! - a Cilium agent restart (the speaker process dies, the kernel closes its socket): graceful
//!   restart must keep the node's routes, so the router still has every next hop after the
//!   hold time has passed;
//! - a node losing power (its link goes silent): the router must drop the node's next hop
//!   within the failover time the rendered README promises.
//!
//! Needs root, FRR and GoBGP (Debian packages `frr` and `gobgpd`): `.ci/run` installs them and
//! runs `cargo test -p kubelab-render --test bgp_failover -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use kubelab_render::{cilium, router};
use kubelab_spec::{examples, Lab};

fn lab(text: &str) -> Lab {
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    assert_eq!(checked.error_count(), 0, "{:?}", checked.diagnostics);
    checked.lab.unwrap()
}

fn run(cmd: &[&str]) -> String {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The namespaces, daemons and files of one run; dropping it removes them all.
struct Testbed {
    prefix: String,
    dir: PathBuf,
    namespaces: Vec<String>,
    daemons: Vec<Child>,
    speakers: Vec<Speaker>,
}

struct Speaker {
    name: String,
    ns: String,
    /// The speaker's port on the switch: taking it down is the node losing power.
    port: String,
    config: PathBuf,
    process: Option<Child>,
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for s in &mut self.speakers {
            if let Some(p) = s.process.as_mut() {
                let _ = p.kill();
                let _ = p.wait();
            }
        }
        for d in self.daemons.iter_mut().rev() {
            let _ = d.kill();
            let _ = d.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(format!("/var/run/frr/{}", self.prefix));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Testbed {
    fn netns(&mut self, name: &str) -> String {
        let ns = format!("{}-{name}", self.prefix);
        run(&["ip", "netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        ns
    }

    /// A host on the switch: returns its namespace and its switch port.
    fn host(
        &mut self,
        name: &str,
        index: usize,
        address: &str,
        prefix_len: u8,
    ) -> (String, String) {
        let ns = self.netns(name);
        let port = format!("{}p{index}", self.prefix);
        let switch = format!("{}-lan", self.prefix);
        run(&[
            "ip", "link", "add", &port, "netns", &switch, "type", "veth", "peer", "name", "eth0",
            "netns", &ns,
        ]);
        run(&[
            "ip", "-n", &switch, "link", "set", &port, "master", "br0", "up",
        ]);
        let cidr = format!("{address}/{prefix_len}");
        run(&["ip", "-n", &ns, "addr", "add", &cidr, "dev", "eth0"]);
        run(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        (ns, port)
    }

    fn spawn(&self, ns: &str, log: &str, program: &[&str]) -> Child {
        let log = std::fs::File::create(self.dir.join(log)).unwrap();
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(program)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program:?}: {e}"))
    }

    fn vtysh(&self, command: &str) -> String {
        let out = Command::new("vtysh")
            .args(["-N", &self.prefix, "-c", command])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start_speaker(&mut self, i: usize, advertise: &[String]) {
        let s = &self.speakers[i];
        let (ns, config, log) = (s.ns.clone(), s.config.clone(), format!("{}.log", s.name));
        let child = self.spawn(
            &ns,
            &log,
            &[
                "gobgpd",
                "-f",
                config.to_str().unwrap(),
                "-l",
                "warn",
                "--api-hosts",
                "127.0.0.1:50051",
            ],
        );
        self.speakers[i].process = Some(child);
        for prefix in advertise {
            wait_for(Duration::from_secs(10), "gobgpd's API", || {
                Command::new("ip")
                    .args([
                        "netns",
                        "exec",
                        &ns,
                        "gobgp",
                        "-u",
                        "127.0.0.1",
                        "-p",
                        "50051",
                    ])
                    .args(["global", "rib", "add", prefix, "-a", "ipv4"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        }
    }

    /// Next hops the router's kernel has for `address`.
    fn next_hops(&self, address: &str) -> usize {
        let ns = format!("{}-router", self.prefix);
        let out = run(&["ip", "-n", &ns, "route", "show", address]);
        let multipath = out.matches("nexthop via").count();
        if multipath > 0 {
            multipath
        } else {
            usize::from(out.contains(" via "))
        }
    }
}

fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// gobgpd's configuration for one speaker, taken field by field from the rendered Cilium objects
/// the way Cilium's agent hands them to GoBGP (graceful restart with the notification bit on).
fn gobgp_toml(lab: &Lab, node_ip: &str) -> String {
    let (cluster, peer, _) = cilium::bgp_objects(lab).expect("BGP objects");
    let instance = &cluster.spec.bgp_instances[0];
    let router = &instance.peers.as_ref().unwrap()[0];
    let timers = peer.spec.timers.as_ref().expect("timers are rendered");
    let gr = peer
        .spec
        .graceful_restart
        .as_ref()
        .expect("graceful restart is rendered");
    // Cilium reads the password from the Secret the peer config names; kubelab renders it.
    let auth = match &peer.spec.auth_secret_ref {
        Some(_) => {
            let secret = cilium::auth_secret(lab).expect("the Secret the peer config names");
            format!(
                "    auth-password = \"{}\"\n",
                secret.string_data.unwrap()["password"]
            )
        }
        None => String::new(),
    };
    let mut t = format!(
        "[global.config]\n  as = {}\n  router-id = \"{node_ip}\"\n  port = -1\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n{auth}\
         [neighbors.timers.config]\n    hold-time = {}\n    keepalive-interval = {}\n    connect-retry = {}\n",
        instance.local_asn.unwrap(),
        router.peer_address.as_ref().unwrap(),
        router.peer_asn.unwrap(),
        timers.hold_time_seconds.unwrap_or(90),
        timers.keep_alive_time_seconds.unwrap_or(30),
        // Cilium's default is 120 s; the speaker's first connection does not wait for it.
        timers.connect_retry_time_seconds.unwrap_or(120),
    );
    if let Some(ttl) = peer.spec.ebgp_multihop {
        t.push_str(&format!(
            "  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = {ttl}\n"
        ));
    }
    if gr.enabled {
        t.push_str(&format!(
            "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = {}\n    notification-enabled = true\n",
            gr.restart_time_seconds.unwrap_or(120)
        ));
    }
    t.push_str(
        "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n",
    );
    if gr.enabled {
        t.push_str("    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n");
    }
    t
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
#[ignore = "needs root, frr and gobgpd: run by .ci/run"]
fn router_drops_a_dead_node_within_the_documented_failover_time_and_keeps_a_restarting_one() {
    for program in [
        "vtysh",
        "gobgpd",
        "gobgp",
        "/usr/lib/frr/zebra",
        "/usr/lib/frr/bgpd",
    ] {
        assert!(
            have(program),
            "{program} is missing: apt-get install frr gobgpd"
        );
    }
    // With a session password, so the sessions only come up if both sides agree on it too.
    let mut lab = lab(&examples::HOMELAB.replace(
        "  asn: 64513\n",
        "  asn: 64513\n  passwordEnv: KUBELAB_BGP_PASSWORD\n",
    ));
    lab.bgp.as_mut().unwrap().password =
        Some(kubelab_spec::model::BgpPassword("failover-test-pw".into()));
    let frr = router::frr_conf(&lab).expect("frr.conf");
    let bound = Duration::from_secs(u64::from(router::failover_seconds(&lab)));
    let readme = router::readme(&lab).unwrap();
    let promised = format!("within {} seconds", router::failover_seconds(&lab));
    assert!(
        readme.contains(&promised),
        "router README must say `{promised}`"
    );

    let prefix = format!("kl{}", std::process::id());
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let mut bed = Testbed {
        prefix: prefix.clone(),
        dir: dir.clone(),
        namespaces: Vec::new(),
        daemons: Vec::new(),
        speakers: Vec::new(),
    };
    // FRR drops its privileges to the `frr` user: it must be able to write its logs here.
    run(&["chmod", "0777", dir.to_str().unwrap()]);

    let switch = bed.netns("lan");
    run(&["ip", "-n", &switch, "link", "add", "br0", "type", "bridge"]);
    run(&["ip", "-n", &switch, "link", "set", "br0", "up"]);
    let subnet_len = lab.network.subnet.net().prefix_len();
    let router_ip = lab.router.as_ref().unwrap().address.to_string();
    let (router_ns, _) = bed.host("router", 0, &router_ip, subnet_len);

    // FRR: zebra (programs the namespace's kernel routes) and bgpd, both in the foreground so
    // the test owns their processes; `-N` keeps their sockets apart from any other FRR.
    let vty = format!("/var/run/frr/{prefix}");
    std::fs::create_dir_all(&vty).unwrap();
    run(&["chown", "frr:frr", &vty]);
    // zebra first: bgpd hands it the routes. Each is up once its socket exists.
    for (daemon, socket) in [("zebra", "zserv.api"), ("bgpd", "bgpd.vty")] {
        let binary = format!("/usr/lib/frr/{daemon}");
        let process = bed.spawn(
            &router_ns,
            &format!("{daemon}.log"),
            &[&binary, "-N", &prefix, "-P", "0", "-f", "/dev/null"],
        );
        bed.daemons.push(process);
        wait_for(Duration::from_secs(10), daemon, || {
            Path::new(&vty).join(socket).exists()
        });
    }
    let conf = dir.join("frr.conf");
    std::fs::write(&conf, &frr).unwrap();
    let loaded = Command::new("vtysh")
        .args(["-N", &prefix, "-f", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "FRR refused the rendered frr.conf: {}",
        String::from_utf8_lossy(&loaded.stdout)
    );

    // One GoBGP speaker per BGP node, advertising a LoadBalancer IP and, to see the router's
    // filter work, an address outside every pool.
    let lb_ip = router::first_pool_address(&lab).expect("a LoadBalancer pool");
    let outside = "192.0.2.1".to_string();
    let advertise = [format!("{lb_ip}/32"), format!("{outside}/32")];
    let speakers: Vec<(String, String)> = lab
        .bgp_speakers()
        .iter()
        .map(|(_, n)| (n.name.clone(), n.ip.expect("static speaker").to_string()))
        .collect();
    assert!(speakers.len() >= 3, "the example lab has three speakers");
    for (i, (name, ip)) in speakers.iter().enumerate() {
        let (ns, port) = bed.host(&format!("s{i}"), i + 1, ip, subnet_len);
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, gobgp_toml(&lab, ip)).unwrap();
        bed.speakers.push(Speaker {
            name: name.clone(),
            ns,
            port,
            config,
            process: None,
        });
        bed.start_speaker(i, &advertise);
    }
    let lb = lb_ip.to_string();
    let n = speakers.len();
    let up = wait_for(Duration::from_secs(60), "ECMP over every speaker", || {
        bed.next_hops(&lb) == n
    });
    eprintln!("{n} next hops for {lb} after {up:?}");
    assert_eq!(
        bed.next_hops(&outside),
        0,
        "the router accepted an address outside the pools"
    );

    // 1. A Cilium agent restart: the speaker process dies and its kernel closes the socket.
    //    Graceful restart keeps its routes past the hold time.
    let hold = u64::from(lab.bgp.as_ref().unwrap().hold_time_seconds);
    {
        let s = &mut bed.speakers[0];
        let mut p = s.process.take().unwrap();
        p.kill().unwrap();
        p.wait().unwrap();
    }
    let restart_started = Instant::now();
    while restart_started.elapsed() < Duration::from_secs(hold + 3) {
        assert_eq!(
            bed.next_hops(&lb),
            n,
            "a restarting agent's routes were dropped after {:?}",
            restart_started.elapsed()
        );
        sleep(Duration::from_millis(200));
    }
    bed.start_speaker(0, &advertise);
    wait_for(
        Duration::from_secs(60),
        "the restarted speaker back",
        || {
            bed.vtysh(&format!("show bgp neighbors {}", speakers[0].1))
                .contains("BGP state = Established")
        },
    );
    assert_eq!(bed.next_hops(&lb), n);

    // 2. A node losing power: its link goes silent, nothing tells the router.
    let (switch_ns, port) = (switch.clone(), bed.speakers[1].port.clone());
    run(&["ip", "-n", &switch_ns, "link", "set", &port, "down"]);
    let dropped = wait_for(
        bound + Duration::from_secs(60),
        "the dead node dropped",
        || bed.next_hops(&lb) < n,
    );
    eprintln!(
        "failover: {} dropped to {} next hops after {:.1} s (documented: within {} s)",
        speakers[1].0,
        bed.next_hops(&lb),
        dropped.as_secs_f64(),
        bound.as_secs()
    );
    assert_eq!(
        bed.next_hops(&lb),
        n - 1,
        "only the dead node's next hop goes"
    );
    assert!(
        dropped <= bound,
        "the router kept a dead node's routes for {dropped:?}, more than the documented {bound:?}"
    );
}
