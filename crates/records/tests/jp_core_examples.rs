//! The JP Core 1.1.2 examples of the resource types this server keeps, accepted by the
//! validator. They are read from the JP Core package beside the checkout
//! (`../shared/fhir/jp-core.r4-1.1.2`) or from `KIROKU_JP_CORE_DIR`; the project does not carry
//! copies of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kiroku_records::resource::TYPES;
use kiroku_records::validate::check;
use std::path::PathBuf;

fn package() -> Option<PathBuf> {
    let dir = std::env::var_os("KIROKU_JP_CORE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fhir/jp-core.r4-1.1.2")
        });
    dir.is_dir().then_some(dir)
}

#[test]
fn jp_core_examples_are_accepted() {
    let Some(dir) = package() else {
        eprintln!("the JP Core package is not beside the checkout: nothing to read");
        return;
    };
    let mut seen = 0;
    let mut refused = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some((kind, _)) = name.split_once('-') else {
            continue;
        };
        if !name.contains("example") || !TYPES.contains(&kind) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let tree = kiroku_records::json::parse(&bytes).unwrap();
        seen += 1;
        if let Err(invalid) = check(&tree) {
            refused.push(format!("{name}: {invalid}"));
        }
        // Broken variants: an element FHIR does not define, and a status outside its codes.
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        value["kirokuNote"] = serde_json::json!("x");
        if value.get("status").is_some() {
            value["status"] = serde_json::json!("no-such-status");
        }
        let broken = kiroku_records::json::parse(value.to_string().as_bytes()).unwrap();
        match check(&broken) {
            Ok(()) => refused.push(format!("{name}: a broken variant was accepted")),
            Err(invalid) => {
                let unknown = invalid
                    .problems
                    .iter()
                    .any(|p| p.expression == format!("{kind}.kirokuNote"));
                let status = value.get("status").is_none()
                    || invalid
                        .problems
                        .iter()
                        .any(|p| p.expression == format!("{kind}.status"));
                if !unknown || !status {
                    refused.push(format!("{name}: the broken variant's problems: {invalid}"));
                }
            }
        }
    }
    eprintln!("{seen} examples read");
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}
