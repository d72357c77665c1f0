//! The fuzz corpus (fuzz/corpus/scenario, minimised by `bash fuzz/run.sh`) and every crash
//! the fuzzer ever found (fuzz/regressions) replayed through the same pipeline as the fuzz
//! target, so CI keeps them fixed without nightly.

use gilsim::engine::Limits;

#[test]
fn the_fuzz_corpus_and_regressions_run_without_a_panic() {
    let mut inputs = Vec::new();
    for dir in ["fuzz/corpus/scenario", "fuzz/regressions"] {
        let Ok(entries) = std::fs::read_dir(super::repo(dir)) else {
            continue;
        };
        inputs.extend(entries.flatten().map(|e| e.path()));
    }
    inputs.sort();
    assert!(inputs.len() >= 50, "only {} corpus files", inputs.len());
    let limits = Limits::for_untrusted_input();
    let mut panics = Vec::new();
    for path in &inputs {
        let bytes = std::fs::read(path).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let outcome =
            std::panic::catch_unwind(|| gilsim::cli::run::exercise("corpus.toml", text, &limits));
        if outcome.is_err() {
            panics.push(path.display().to_string());
        }
    }
    assert!(panics.is_empty(), "inputs that panic: {panics:?}");
}
