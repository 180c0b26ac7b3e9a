//! The params YAML reader on arbitrary text.
#![no_main]

use jepa_doctor::params::RunParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RunParams::from_yaml(text, "fuzz.yaml");
    }
});
