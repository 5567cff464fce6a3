//! Compiles kubelab's own Talos API definitions (proto/) with protox, a protobuf compiler in
//! Rust, so that building needs no system `protoc` (the README's commands work on a fresh
//! machine), then generates the tonic client and the fake node's server from them.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/common/common.proto",
        "proto/machine/machine.proto",
        "proto/machine/lifecycle.proto",
        "proto/machine/image.proto",
        "proto/cluster/cluster.proto",
        "proto/storage/storage.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
