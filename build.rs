//! Compiles proto/ (our elastic.v1 API and the GoBGP v3 subset) into Rust with tonic.
//!
//! protox parses the .proto files in Rust, so building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/elastic/v1/elastic.proto",
        "proto/gobgp/v3/gobgp.proto",
        "proto/gobgp/v3/attribute.proto",
        "proto/gobgp/v3/capability.proto",
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
