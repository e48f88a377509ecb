//! `cnb-release`: what `make package-*`, `make build-image-*` and `make publish` run. It writes the
//! `lifecycle.toml` descriptor, packs `out/<os>/<arch>` binaries into a reproducible `.tgz`, builds
//! lifecycle images as OCI layouts with our own image crate (no Docker), joins them in an index,
//! and copies layouts to a registry. It is a build tool, not part of the lifecycle.

mod descriptor;
mod image;
mod package;
mod publish;

use std::process::ExitCode;

const USAGE: &str = "usage:
  cnb-release descriptor
  cnb-release package <bin dir> <out.tgz>
  cnb-release image <bin dir> <os/arch> <layout root> <name>   (CA_BUNDLE: the CA bundle to carry)
  cnb-release index <layout root> <name> <child name>...
  cnb-release publish <layout root> <insecure registry or -> <source name>=<destination>...";

fn main() -> ExitCode {
    // Not `std::env::args`, which panics on an argument that is not UTF-8.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match refs.as_slice() {
        ["descriptor"] => {
            print!("{}", descriptor::toml());
            Ok(())
        }
        ["package", bin, out] => package::package(bin.as_ref(), out.as_ref()),
        ["image", bin, platform, root, name] => {
            // The image's CA bundle is the build host's, as distroless carries Debian's.
            let ca = std::env::var_os("CA_BUNDLE")
                .filter(|v| !v.is_empty())
                .map_or_else(|| image::CA_BUNDLE.into(), std::path::PathBuf::from);
            image::build(bin.as_ref(), &ca, platform, root.as_ref(), name)
        }
        ["index", root, name, children @ ..] if !children.is_empty() => {
            image::index(root.as_ref(), name, children)
        }
        ["publish", root, insecure, pairs @ ..] if !pairs.is_empty() => {
            publish::publish(root.as_ref(), insecure, pairs)
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnb-release: {e}");
            ExitCode::FAILURE
        }
    }
}
