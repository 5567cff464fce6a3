//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::output::ColorChoice;

#[derive(Parser)]
#[command(
    name = "kubelab",
    version,
    about = "Declarative home-lab Kubernetes: Talos, Cilium BGP, storage, security and backups from one lab.yaml",
    long_about = "kubelab turns one declarative lab.yaml into a working home lab: Talos Linux nodes, \
Cilium with BGP to your router, storage, a security baseline, monitoring and backups.\n\n\
Start with `kubelab init`, edit lab.yaml, then `kubelab check`.",
    propagate_version = true
)]
pub struct Cli {
    /// When to use colours (NO_COLOR in the environment also turns them off).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write an example lab.yaml to start from.
    Init(InitArgs),
    /// Validate a lab file and summarise the lab.
    Check(CheckArgs),
    /// Render every artifact: Talos machine configs, talosconfig, kubeconfig, schematics.
    Render(RenderArgs),
    /// Create or rotate the cluster secrets (stored age-encrypted beside lab.yaml).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Check Kubernetes manifests against the security baseline.
    Lint(LintArgs),
    /// Predict where workloads go, what stays Pending and why, and what losing nodes costs.
    Plan(PlanArgs),
    /// Draw the lab's topology: router, BGP sessions, subnet, nodes, pools, NAS.
    Diagram(DiagramArgs),
    /// Build the cluster on the lab's machines through the Talos API (rerun to continue).
    Up(UpArgs),
    /// Reset the cluster's nodes back to Talos maintenance mode (or one node with --node).
    Down(DownArgs),
    /// Compare each node's running Talos config with the rendered one (exit 1 on drift).
    Diff(DiffArgs),
    /// One screen of the running cluster: nodes, Cilium, BGP sessions, pools, LoadBalancers, claims.
    Status(StatusArgs),
    /// Find what is wrong with the running cluster, with the root cause and the fix (exit 1).
    Doctor(DoctorArgs),
    /// Print the JSON Schema of lab.yaml (for editor completion) or its reference page.
    Schema(SchemaArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Take an etcd snapshot through the Talos API, checked and written 0600 (or `list` them).
    Backup(BackupArgs),
    /// Restore etcd from a snapshot: wipe etcd on every control plane, recover one, rejoin.
    Restore(RestoreArgs),
    /// Prove a snapshot: restore it into a scratch etcd here, count objects, time it.
    Drill(DrillArgs),
    /// Bring the running cluster to lab.yaml's Talos and Kubernetes versions, node by node
    /// (`--plan` shows the steps; rerun to continue after an interruption).
    Upgrade(UpgradeArgs),
}

#[derive(Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Print the ordered steps and what each waits for, and drill draining each node in turn
    /// against the running workloads; change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Workers upgraded at once (control planes always go one at a time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// Reboot nodes without draining them first (no Kubernetes access needed).
    #[arg(long)]
    pub no_drain: bool,
    /// How long draining one node may take (PodDisruptionBudgets may hold it), in seconds.
    #[arg(long, default_value_t = 300)]
    pub drain_timeout_seconds: u64,
    /// Evict pods no controller owns when draining (nothing recreates them); without it such
    /// a pod stops the upgrade before its node is drained.
    #[arg(long)]
    pub evict_unmanaged: bool,
    /// Do not take an etcd snapshot first (one taken just before is the way back).
    #[arg(long)]
    pub skip_backup: bool,
    #[command(flatten)]
    pub dir: BackupDirArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// The kubeconfig for draining [default: the first file in $KUBECONFIG, else the one
    /// `kubelab up` wrote].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Args)]
pub struct InitArgs {
    /// Directory to write lab.yaml into.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Which example to start from.
    #[arg(long, value_enum, default_value_t = Example::Homelab)]
    pub example: Example,
    /// Overwrite an existing lab.yaml.
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Example {
    /// 3 x86_64 control planes, Raspberry Pi CM4 workers, pfSense BGP, Synology NAS.
    Homelab,
    /// 3 machines that are control planes and workers at once.
    Minimal,
}

impl Example {
    pub fn name(self) -> &'static str {
        match self {
            Example::Homelab => "homelab",
            Example::Minimal => "minimal",
        }
    }
}

#[derive(Args)]
pub struct CheckArgs {
    /// The lab file; `-` reads standard input.
    #[arg(default_value = "lab.yaml")]
    pub file: PathBuf,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// Also show notes: advice that never fails a check (JSON output always has them).
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Where the lab, its secrets and the identity that opens them are.
#[derive(Args, Clone)]
pub struct LabArgs {
    /// The lab file.
    #[arg(long, default_value = "lab.yaml")]
    pub lab: PathBuf,
    /// The encrypted secrets bundle [default: secrets.age beside the lab file].
    #[arg(long)]
    pub secrets: Option<PathBuf>,
    /// age identity file that opens the secrets [default: ~/.config/kubelab/<cluster>.agekey].
    #[arg(long, env = "KUBELAB_AGE_IDENTITY")]
    pub identity: Option<PathBuf>,
}

#[derive(Args)]
pub struct DiagramArgs {
    /// The lab file.
    #[arg(long, default_value = "lab.yaml")]
    pub lab: PathBuf,
    /// Picture format: SVG (as `render` writes to topology.svg), Graphviz DOT, or Mermaid for
    /// Markdown documents.
    #[arg(short, long, value_enum, default_value_t = DiagramFormat::Svg)]
    pub output: DiagramFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiagramFormat {
    Svg,
    Dot,
    Mermaid,
}

#[derive(Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// Output directory [default: rendered/ beside the lab file].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Show what would change in the output directory; write nothing.
    #[arg(long)]
    pub diff: bool,
}

/// How the live commands reach the nodes.
#[derive(Args, Clone)]
pub struct LiveArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// A node's maintenance-mode certificate fingerprint, as its console shows it
    /// (SHA-256 of the key, hex or base64); without one the first key seen is trusted.
    /// Repeatable.
    #[arg(long, value_name = "NODE=FINGERPRINT")]
    pub pin: Vec<String>,
    /// Output: progress lines, or one JSON object per event.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Seconds between two looks at a node that is not there yet (tests shorten it).
    #[arg(long, hide = true, default_value_t = 2.0)]
    pub poll_seconds: f64,
}

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Where to write the admin kubeconfig Talos mints (mode 0600)
    /// [default: ~/.config/kubelab/<cluster>.kubeconfig].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Stop once Talos is healthy: do not wait for Cilium, nodes Ready and BGP.
    #[arg(long)]
    pub talos_only: bool,
}

#[derive(Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Remove only this node (a control plane only while etcd keeps its quorum); delete it
    /// from lab.yaml afterwards.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// What the reset wipes.
    #[arg(long, value_enum, default_value_t = Wipe::All)]
    pub wipe: Wipe,
    /// Do not ask: the cluster name is not typed in.
    #[arg(long)]
    pub yes: bool,
    /// Show what would be reset; reset nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The admin kubeconfig `kubelab up` wrote (finds a worker lab.yaml no longer lists, and
    /// deletes a removed node's Node object) [default: ~/.config/kubelab/<cluster>.kubeconfig].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Wipe {
    /// The system disk and the user disks.
    All,
    /// Only the system disk (user volumes on other disks survive).
    SystemDisk,
    /// Only the user disks.
    UserDisks,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// Compare with the running nodes (required: the rendered tree's diff is `kubelab render --diff`).
    #[arg(long = "live", id = "compare_live")]
    pub compare_live: bool,
}

/// How `status` and `doctor` reach the cluster.
#[derive(Args, Clone)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// The kubeconfig [default: the first file in $KUBECONFIG, else the one `kubelab up` wrote,
    /// ~/.config/kubelab/<cluster>.kubeconfig].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// How long the look at the cluster may take, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_seconds: u64,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format (with --watch and json: one JSON object per line and refresh).
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Refresh in place until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between two refreshes with --watch.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval_seconds: u64,
}

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DoctorFormat::Text)]
    pub output: DoctorFormat,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = DoctorFailOn::Warning)]
    pub fail_on: DoctorFailOn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DoctorFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DoctorFailOn {
    Info,
    Warning,
    Error,
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Generate the cluster secrets: CAs, keys, tokens, admin client certificates.
    Init(SecretsInitArgs),
    /// Replace part of the secrets.
    Rotate(SecretsRotateArgs),
}

#[derive(Args)]
pub struct SecretsInitArgs {
    #[command(flatten)]
    pub lab: LabArgs,
}

#[derive(Args)]
pub struct SecretsRotateArgs {
    /// What to replace.
    #[arg(value_enum)]
    pub what: RotateTarget,
    #[command(flatten)]
    pub lab: LabArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RotateTarget {
    /// The admin client certificates of talosconfig and kubeconfig.
    Clients,
    /// Everything. Only for a cluster that is rebuilt from scratch: running nodes trust the old CAs.
    All,
}

#[derive(Args)]
pub struct LintArgs {
    /// Files or directories (searched for .yaml, .yml, .json); `-` reads standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = LintFormat::Text)]
    pub output: LintFormat,
    /// Fail (exit 1) on findings at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Ignore every suppression annotation.
    #[arg(long)]
    pub strict: bool,
    /// Explain a rule (e.g. KL101) and exit.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// lab.yaml, for lab-aware rules (its pools, storage classes and node architectures).
    #[arg(long)]
    pub lab: Option<PathBuf>,
    /// Excludes file [default: .kubelab-lint.yaml when present].
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Args)]
pub struct PlanArgs {
    /// Workload manifests: files or directories (.yaml, .yml, .json); `-` reads standard input.
    pub paths: Vec<PathBuf>,
    /// The lab to plan against [default: lab.yaml, unless --cluster is given].
    #[arg(long)]
    pub lab: Option<PathBuf>,
    /// A snapshot of a real cluster instead of a lab: `kubectl get nodes -o yaml`, optionally
    /// with `kubectl get pods -A -o yaml` (running pods take their share). Repeatable.
    #[arg(long, conflicts_with = "lab")]
    pub cluster: Vec<PathBuf>,
    /// Drill: fail these nodes (names), or `any:N` for the worst N. Repeatable.
    #[arg(long, value_name = "NODE|any:N")]
    pub fail: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
    /// Leave out the seed's unrequested platform overheads: exactly what kube-scheduler admits.
    #[arg(long)]
    pub scheduler_view: bool,
    /// kube-scheduler's percentageOfNodesToScore [default: its adaptive value].
    #[arg(long, value_name = "PERCENT")]
    pub percentage_of_nodes_to_score: Option<u32>,
    /// How pods are queued: `queue` puts every pod in the queue at once (priority decides);
    /// `apply` takes objects in file order, scheduling each before the next is applied.
    #[arg(long, value_enum, default_value_t = PlanOrder::Queue)]
    pub order: PlanOrder,
    /// Most extra replicas tried per workload for headroom (0 turns headroom off).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub headroom_limit: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanOrder {
    Queue,
    Apply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    /// One self-contained page: per-node capacity bars, Pending pods, headroom, drills.
    Html,
    /// The per-node capacity bars alone.
    Svg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
    Sarif,
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

#[derive(Args)]
pub struct SchemaArgs {
    /// What to print.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Json)]
    pub format: SchemaFormat,
    /// Print instead the Talos machine-config schema kubelab validates against for this Talos
    /// minor (such as 1.14): the upstream schema with kubelab's documented corrections.
    #[arg(long, value_name = "MINOR", conflicts_with = "format")]
    pub talos: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SchemaFormat {
    /// JSON Schema (draft 2020-12).
    Json,
    /// The field reference as Markdown.
    Markdown,
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    pub shell: clap_complete::Shell,
}

/// Where etcd backups are kept.
#[derive(Args, Clone)]
pub struct BackupDirArgs {
    /// Directory of the backups [default: ~/.local/share/kubelab/<cluster>/etcd, outside the
    /// repository: a snapshot holds every object of the cluster].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    #[command(flatten)]
    pub lab: LabArgs,
    #[command(flatten)]
    pub dir: BackupDirArgs,
    /// Take the snapshot from this control plane [default: a healthy follower].
    #[arg(long)]
    pub node: Option<String>,
    /// The backup file [default: <dir>/etcd-<cluster>-<UTC time>.snapshot].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Encrypt with age to the lab's recipients (the identity's key, `secrets.recipients`,
    /// KUBELAB_AGE_RECIPIENTS).
    #[arg(long)]
    pub encrypt: bool,
    /// Also have Velero back up the lab's namespaces now (as its daily schedule does) and wait
    /// until it finishes.
    #[arg(long)]
    pub velero: bool,
    /// How long the Velero backup may take, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub velero_timeout_seconds: u64,
    /// The kubeconfig for --velero [default: the first file in $KUBECONFIG, else the one
    /// `kubelab up` wrote].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// List the local snapshots: time, node, size, revision.
    List(BackupListArgs),
}

#[derive(Args)]
pub struct BackupListArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    #[command(flatten)]
    pub dir: BackupDirArgs,
}

#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    /// The etcd snapshot to restore (`.age` files are decrypted with the lab's identity).
    #[arg(
        long = "from",
        required_unless_present = "velero",
        conflicts_with = "velero"
    )]
    pub from: Option<PathBuf>,
    /// Instead of etcd: restore namespaces from this Velero backup (`kubectl -n velero get
    /// backups`); objects that exist are left as they are.
    #[arg(long, value_name = "BACKUP")]
    pub velero: Option<String>,
    /// With --velero: the namespaces to restore (repeatable) [default: all in the backup].
    #[arg(long = "namespace", value_name = "NAMESPACE", requires = "velero")]
    pub namespaces: Vec<String>,
    /// With --velero: the kubeconfig [default: the first file in $KUBECONFIG, else the one
    /// `kubelab up` wrote].
    #[arg(long, requires = "velero")]
    pub kubeconfig: Option<PathBuf>,
    /// Print the plan and check the snapshot; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for the cluster name before wiping etcd.
    #[arg(long)]
    pub yes: bool,
    /// The control plane to recover onto [default: the first by name].
    #[arg(long)]
    pub node: Option<String>,
    /// For a database copied off a node, which has no integrity hash (a wrong hash is
    /// always refused).
    #[arg(long)]
    pub skip_hash_check: bool,
}

#[derive(Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    #[command(flatten)]
    pub dir: BackupDirArgs,
    /// The snapshot to drill [default: the newest in the backup directory].
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Do not compare with the live cluster.
    #[arg(long)]
    pub offline: bool,
    /// For a database copied off a node, which has no integrity hash.
    #[arg(long)]
    pub skip_hash_check: bool,
    /// The kubeconfig for checking the newest Velero backup [default: the first file in
    /// $KUBECONFIG, else the one `kubelab up` wrote].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}
