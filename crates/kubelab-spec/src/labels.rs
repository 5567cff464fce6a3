//! Node labels kubelab itself puts on nodes. They are facts about the lab (which nodes speak
//! BGP, which offer local storage), so they live with the model: the renderers write them and
//! the planner reads them, and neither has to depend on the other to agree on the spelling.

/// Node label that selects the BGP speakers (Cilium's BGP cluster config matches it).
pub const BGP_SPEAKER_LABEL: &str = "kubelab.dev/bgp";
/// Node label kubelab puts on nodes that offer local-path storage.
pub const LOCAL_STORAGE_LABEL: &str = "kubelab.dev/local-storage";
