//! Flux GitRepository: for charts published only inside a project's repository.

use serde::Serialize;

use super::Metadata;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: GitRepositorySpec,
}

#[derive(Serialize)]
pub struct GitRepositorySpec {
    pub interval: String,
    pub url: String,
    #[serde(rename = "ref")]
    pub reference: GitRef,
}

#[derive(Serialize)]
pub struct GitRef {
    pub tag: String,
}

impl GitRepository {
    pub fn at_tag(name: &str, namespace: &str, url: &str, tag: &str) -> Self {
        Self {
            api_version: "source.toolkit.fluxcd.io/v1",
            kind: "GitRepository",
            metadata: Metadata {
                name: name.into(),
                namespace: namespace.into(),
            },
            spec: GitRepositorySpec {
                interval: "24h".into(),
                url: url.into(),
                reference: GitRef { tag: tag.into() },
            },
        }
    }
}
