//! A transaction Bundle as a client sends it: read into its entries (methods, conditional
//! creates, fullUrls, references) without panicking, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kiroku_records::transaction::parse(data);
});
