//! The node labels the renderer writes into Talos configs (and selects on in Cilium's BGP and
//! the local-path StorageClass) are the ones the lab model names, which the planner reads
//! without depending on the renderer. Until `talos` re-exports them, this keeps the two copies
//! from drifting apart.

#[test]
fn render_writes_the_node_labels_the_model_names() {
    assert_eq!(
        kubelab_render::talos::BGP_SPEAKER_LABEL,
        kubelab_spec::labels::BGP_SPEAKER_LABEL
    );
    assert_eq!(
        kubelab_render::talos::LOCAL_STORAGE_LABEL,
        kubelab_spec::labels::LOCAL_STORAGE_LABEL
    );
}
