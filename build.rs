//! Compiles the golden tool definitions (`tool-schemas/*.json`) into the binary: the server
//! serves their input and output schemas instead of generating them with schemars at every
//! start (src/tools/schema.rs; tests/tool_schemas.rs proves the files match the Rust types).
//!
//! It also hands the linker `link/hot-text.txt`, the functions a session runs, so that they
//! sit together at the front of the binary (see [`link_hot_text_first`]).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    compile_golden_schemas();
    if linker_is_lld() {
        link_hot_text_first();
        pack_relative_relocations();
    }
}

fn compile_golden_schemas() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("tool-schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut out =
        String::from("/// (tool name, golden definition) for every file in tool-schemas/.\n");
    out.push_str("pub(crate) const GOLDEN: &[(&str, &str)] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file.file_stem().unwrap().to_string_lossy();
        // The text itself, not `include_str!(absolute path)`: a path in the code would make
        // the build depend on where the checkout is, down to the symbol names that
        // link/hot-text.txt lists (ThinLTO's `.llvm.<hash>` suffixes hash the module).
        let text = std::fs::read_to_string(file).unwrap();
        writeln!(out, "    ({name:?}, {text:?}),").unwrap();
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("golden_tools.rs");
    std::fs::write(target, out).unwrap();
}

/// Asks the linker to put the functions in `link/hot-text.txt` first, in that order.
///
/// The kernel maps a binary's code in 64 KiB windows around each page it runs; with the
/// functions a session uses spread over 9 MiB of code, nearly all of it ends up resident.
/// Packed together, they fill under 2 MiB (`scripts/hot-text.py` writes the list; see the
/// README's "Lean" section). Names the build no longer has are ignored, so a stale list
/// costs memory, never correctness.
///
/// Only where the linker is known to be LLD (see [`linker_is_lld`]), which has
/// `--symbol-ordering-file`. `MAKE_MCP_NO_LINK_ORDER=1` turns it off.
fn link_hot_text_first() {
    println!("cargo:rerun-if-env-changed=MAKE_MCP_NO_LINK_ORDER");
    let list = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap())
        .join("link")
        .join("hot-text.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    if std::env::var_os("MAKE_MCP_NO_LINK_ORDER").is_some() || !list.exists() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// True when rustc links this target with its own LLD by default and nothing overrides it:
/// x86_64 Linux with GNU libc, rustc 1.90 or later, no linker or link flags from the user.
fn linker_is_lld() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let target = var("TARGET");
    let linker_env = format!(
        "CARGO_TARGET_{}_LINKER",
        target.to_uppercase().replace(['-', '.'], "_")
    );
    if target != "x86_64-unknown-linux-gnu"
        || std::env::var_os(linker_env).is_some()
        || var("CARGO_ENCODED_RUSTFLAGS").contains("link")
    {
        return false;
    }
    rustc_minor().is_some_and(|minor| minor >= 90)
}

/// The minor version of the rustc that builds this crate (`rustc 1.95.0 (...)` → 95).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var_os("RUSTC")?;
    let output = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    version.split('.').nth(1)?.parse().ok()
}

/// Packs the binary's relative relocations (`-z pack-relative-relocs`, DT_RELR): 370 KiB of
/// `.rela.dyn` that the loader reads at every start become a few KiB.
///
/// The binary then needs GNU libc 2.36 or later, so only when the libc it is built against
/// (the one `cargo install` users run it with) is that new. Called only when the linker is LLD.
fn pack_relative_relocations() {
    if build_libc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// True when `getconf GNU_LIBC_VERSION` says `glibc MAJOR.MINOR` or later.
fn build_libc_at_least(major: u32, minor: u32) -> bool {
    let Ok(output) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}
