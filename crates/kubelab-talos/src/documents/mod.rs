//! Every document kind kubelab writes into a Talos machine config, as typed values.
//!
//! A node's config is a list of [`Document`]s; [`Document::to_value`] is the one place they
//! become JSON (for the user's patches, the schema check and, in the renderer, YAML).

pub mod kubernetes;
pub mod machine;
pub mod v1alpha1;

use kubernetes::*;
use machine::*;

macro_rules! documents {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// One document of a machine config.
        #[derive(Debug, Clone)]
        pub enum Document {
            $($variant($ty)),*
        }

        $(impl From<$ty> for Document {
            fn from(document: $ty) -> Self {
                Document::$variant(document)
            }
        })*

        impl Document {
            /// The JSON form, as Talos reads it.
            pub fn to_value(&self) -> serde_json::Value {
                // Serialising plain structs of strings, numbers, maps and lists into a JSON
                // value cannot fail (no non-string map keys, no custom serializers).
                match self {
                    $(Document::$variant(d) => serde_json::to_value(d)
                        .expect("typed Talos documents convert to JSON")),*
                }
            }
        }
    };
}

impl From<v1alpha1::Config> for Document {
    fn from(config: v1alpha1::Config) -> Self {
        Document::Config(Box::new(config))
    }
}

documents! {
    Config(Box<v1alpha1::Config>),
    Stub(v1alpha1::Stub),
    Hostname(HostnameConfig),
    LinkAlias(LinkAliasConfig),
    Link(LinkConfig),
    Dhcpv4(Dhcpv4Config),
    Layer2Vip(Layer2VipConfig),
    Resolver(ResolverConfig),
    TimeSync(TimeSyncConfig),
    UserVolume(UserVolumeConfig),
    Volume(VolumeConfig),
    DiscoveryService(Doc<DiscoveryServiceConfig>),
    DiscoveryIdentity(Doc<DiscoveryIdentityConfig>),
    UnattendedInstall(Doc<UnattendedInstallConfig>),
    FilesystemTrim(Doc<FilesystemTrimConfig>),
    SecurityProfile(Doc<SecurityProfileConfig>),
    KubeCluster(Doc<KubeClusterConfig>),
    KubeNode(Doc<KubeNodeConfig>),
    Kubelet(Doc<KubeletConfig>),
    KubeNetwork(Doc<KubeNetworkConfig>),
    KubeApiServerCa(Doc<KubeApiServerCaConfig>),
    KubePrism(Doc<KubePrismConfig>),
    KubeAggregatorCa(Doc<KubeAggregatorCaConfig>),
    KubeAuthorizer(Doc<KubeAuthorizerConfig>),
    KubeEtcdEncryption(Doc<KubeEtcdEncryptionConfig>),
    KubeServiceAccount(Doc<KubeServiceAccountConfig>),
    KubeApiServer(Doc<KubeApiServerConfig>),
    KubeControllerManager(Doc<KubeControllerManagerConfig>),
    KubeScheduler(Doc<KubeSchedulerConfig>),
    KubeProxy(Doc<KubeProxyConfig>),
    KubeCoreDns(Doc<KubeCoreDnsConfig>),
    KubeTalosApiAccess(Doc<KubeTalosApiAccessConfig>),
    KubeInlineManifest(Doc<KubeInlineManifestConfig>),
}
