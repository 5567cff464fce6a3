//! The talosconfig file talosctl and kubelab share: contexts with endpoints, nodes and the
//! client's credentials, each PEM stored base64-encoded.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::tls::Credentials;

/// A parsed talosconfig.
#[derive(Debug, Clone, Deserialize)]
pub struct Talosconfig {
    pub context: String,
    pub contexts: BTreeMap<String, Context>,
}

/// One context: where to connect and as whom.
#[derive(Clone, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub nodes: Vec<String>,
    ca: String,
    crt: String,
    key: String,
}

impl std::fmt::Debug for Context {
    // The key never reaches a log or an error message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("endpoints", &self.endpoints)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

impl Talosconfig {
    /// Reads a talosconfig's text (YAML).
    pub fn parse(text: &str) -> Result<Self> {
        serde_saphyr::from_str(text).map_err(|e| Error::Talosconfig(e.to_string()))
    }

    /// The context the file selects.
    pub fn current(&self) -> Result<&Context> {
        self.contexts.get(&self.context).ok_or_else(|| {
            Error::Talosconfig(format!(
                "it names context `{}` but has no such context",
                self.context
            ))
        })
    }
}

impl Context {
    /// The client credentials of this context, decoded from base64.
    pub fn credentials(&self) -> Result<Credentials> {
        let decode = |field: &str, value: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|e| Error::Talosconfig(format!("`{field}` is not base64: {e}")))
        };
        Ok(Credentials::Admin {
            ca_pem: decode("ca", &self.ca)?,
            crt_pem: decode("crt", &self.crt)?,
            key_pem: decode("key", &self.key)?,
        })
    }
}
