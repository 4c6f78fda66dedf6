//! A FHIR resource as a client sends it: the strict JSON reader, the resource's reading (type,
//! id, meta, control characters) and the FHIR R4 / JP Core validator must answer any bytes
//! without panicking, and what the reader accepts must read back the same from its own text.
#![no_main]

use kiroku_records::json;
use kiroku_records::resource::Resource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = json::parse(data) {
        let text = tree.to_bytes();
        let again = json::parse(&text).expect("the reader reads its own text");
        assert_eq!(again, tree, "a document reads back as it was read");
    }
    if let Ok(resource) = Resource::parse(data, None) {
        let _ = resource.check();
        let _ = kiroku_records::index::index(&resource, "fuzz");
    }
});
