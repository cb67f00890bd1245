//! Compiles the golden tool definitions (`tool-schemas/*.json`) into the binary: the server
//! serves their input and output schemas instead of generating them with schemars at every
//! start (src/tools/schema.rs; tests/tool_schemas.rs proves the files match the Rust types).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
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
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            file.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("golden_tools.rs");
    std::fs::write(target, out).unwrap();
}
