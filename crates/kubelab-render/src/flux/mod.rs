//! Flux objects kubelab renders: Helm repositories and releases. Typed here (no maintained
//! crate carries Flux's types with the field set we need); CI validates them against Flux's
//! own CRDs.

mod git;

pub use git::GitRepository;

use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    pub namespace: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: HelmRepositorySpec,
}

#[derive(Serialize)]
pub struct HelmRepositorySpec {
    pub interval: String,
    pub url: String,
}

impl HelmRepository {
    pub fn new(name: &str, namespace: &str, url: &str) -> Self {
        Self {
            api_version: "source.toolkit.fluxcd.io/v1",
            kind: "HelmRepository",
            metadata: Metadata {
                name: name.into(),
                namespace: namespace.into(),
            },
            spec: HelmRepositorySpec {
                interval: "24h".into(),
                url: url.into(),
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmRelease {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: HelmReleaseSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    pub interval: String,
    pub release_name: String,
    pub chart: ChartTemplate,
    pub values: Value,
}

#[derive(Serialize)]
pub struct ChartTemplate {
    pub spec: ChartSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartSpec {
    pub chart: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    pub source_ref: SourceRef,
}

#[derive(Serialize)]
pub struct SourceRef {
    pub kind: &'static str,
    pub name: String,
}

impl HelmRelease {
    /// A release of the chart at `path` inside the GitRepository `repository`.
    pub fn from_git(
        name: &str,
        namespace: &str,
        repository: &str,
        path: &str,
        values: Value,
    ) -> Self {
        let mut release = Self::new(name, namespace, repository, path, "*", values);
        release.spec.chart.spec.source_ref.kind = "GitRepository";
        release.spec.chart.spec.version = String::new();
        release
    }
}

impl HelmRelease {
    /// A release of `chart` at `version` from the HelmRepository `repository` in the same
    /// namespace.
    pub fn new(
        name: &str,
        namespace: &str,
        repository: &str,
        chart: &str,
        version: &str,
        values: Value,
    ) -> Self {
        Self {
            api_version: "helm.toolkit.fluxcd.io/v2",
            kind: "HelmRelease",
            metadata: Metadata {
                name: name.into(),
                namespace: namespace.into(),
            },
            spec: HelmReleaseSpec {
                interval: "30m".into(),
                release_name: name.into(),
                chart: ChartTemplate {
                    spec: ChartSpec {
                        chart: chart.into(),
                        version: version.into(),
                        source_ref: SourceRef {
                            kind: "HelmRepository",
                            name: repository.into(),
                        },
                    },
                },
                values,
            },
        }
    }
}
