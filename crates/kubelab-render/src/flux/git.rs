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

/// Exactly one of `branch` or `tag` is set.
#[derive(Serialize)]
pub struct GitRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl GitRepository {
    pub fn at_tag(name: &str, namespace: &str, url: &str, tag: &str) -> Self {
        Self::new(
            name,
            namespace,
            url,
            "24h",
            GitRef {
                branch: None,
                tag: Some(tag.into()),
            },
        )
    }

    pub fn on_branch(name: &str, namespace: &str, url: &str, branch: &str, interval: &str) -> Self {
        Self::new(
            name,
            namespace,
            url,
            interval,
            GitRef {
                branch: Some(branch.into()),
                tag: None,
            },
        )
    }

    fn new(name: &str, namespace: &str, url: &str, interval: &str, reference: GitRef) -> Self {
        Self {
            api_version: "source.toolkit.fluxcd.io/v1",
            kind: "GitRepository",
            metadata: Metadata {
                name: name.into(),
                namespace: namespace.into(),
            },
            spec: GitRepositorySpec {
                interval: interval.into(),
                url: url.into(),
                reference,
            },
        }
    }
}
