//! Any bytes as a scenario file: parse → validate → simulate (small limits) → render every
//! output in memory. It must return, whatever the input; errors are fine, panics are not.
#![no_main]

use gilsim::engine::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gilsim::cli::run::exercise("fuzz.toml", text, &Limits::for_untrusted_input());
    }
});
