//! Mutation testing: random edits of every bundled scenario — deleted and duplicated
//! lines, extreme numbers (0, −1, 1e308, 2⁶⁴, NaN, inf), empty and nonsense strings,
//! broken brackets, truncation — must each end in a result or an error with a message:
//! never a panic, an abort or a hang (issue 7).

use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

use gilsim::engine::Limits;

/// What replaces a number or a quoted value.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "18446744073709551616",
    "9223372036854775807",
    "nan",
    "inf",
    "-inf",
    "1e-300",
    "\"\"",
    "\"0ns\"",
    "\"-1ms\"",
    "\"1e308s\"",
    "\"NaNms\"",
    "\"18446744073709551616ns\"",
    "\"99999999999999999999 days\"",
    "\"1e308GB/s\"",
    "\"0B/s\"",
    "{}",
    "[]",
    "true",
];

const BRACKETS: &[char] = &['{', '}', '[', ']', '"', '=', ','];

/// One random edit of `text`.
fn mutate(text: &str, rng: &mut Pcg64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let pick = |rng: &mut Pcg64| rng.random_range(0..lines.len().max(1));
    match rng.random_range(0..7) {
        // Delete a line.
        0 => {
            let i = pick(rng);
            lines
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join("\n")
        }
        // Duplicate a line (duplicate keys and tables).
        1 => {
            let i = pick(rng);
            let mut out: Vec<&str> = lines.clone();
            out.insert(i, lines[i]);
            out.join("\n")
        }
        // Replace a number or a quoted value with an extreme.
        2 | 3 => {
            let spans = values(text);
            if spans.is_empty() {
                return text.to_string();
            }
            let (a, b) = spans[rng.random_range(0..spans.len())];
            let with = EXTREMES[rng.random_range(0..EXTREMES.len())];
            format!("{}{}{}", &text[..a], with, &text[b..])
        }
        // Delete or insert a bracket, quote, equals sign or comma.
        4 => {
            let at: Vec<usize> = text.match_indices(BRACKETS).map(|(i, _)| i).collect();
            if at.is_empty() || rng.random_bool(0.5) {
                let i = char_boundary(text, rng.random_range(0..=text.len()));
                let c = BRACKETS[rng.random_range(0..BRACKETS.len())];
                format!("{}{}{}", &text[..i], c, &text[i..])
            } else {
                let i = at[rng.random_range(0..at.len())];
                format!("{}{}", &text[..i], &text[i + 1..])
            }
        }
        // Truncate.
        5 => text[..char_boundary(text, rng.random_range(0..=text.len()))].to_string(),
        // Several edits at once.
        _ => {
            let mut t = text.to_string();
            for _ in 0..3 {
                t = mutate(&t, rng);
            }
            t
        }
    }
}

fn char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte spans of numbers and "quoted" values right of an `=` or inside inline tables.
fn values(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let end = text[i + 1..].find('"').map_or(b.len(), |j| i + 2 + j);
            out.push((i, end.min(b.len())));
            i = end;
        } else if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'_') {
                j += 1;
            }
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn a_thousand_mutated_scenarios_end_in_a_result_or_an_error_never_a_panic() {
    let limits = Limits::for_untrusted_input();
    let mut rng = Pcg64::seed_from_u64(7);
    let (mut ok, mut errors, mut panics) = (0, 0, Vec::new());
    let mut slowest = Duration::ZERO;
    for scenario in gilsim::bundled::SCENARIOS {
        for n in 0..80 {
            let text = mutate(scenario.text, &mut rng);
            let label = format!("{}-mutant-{n}.toml", scenario.name);
            let start = Instant::now();
            let outcome =
                std::panic::catch_unwind(|| gilsim::cli::run::exercise(&label, &text, &limits));
            slowest = slowest.max(start.elapsed());
            if n % 40 == 0 {
                through_the_binary(&label, &text);
            }
            match outcome {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(e)) => {
                    let message = e.to_string();
                    assert!(
                        !message.trim().is_empty(),
                        "{label}: an error without a message"
                    );
                    errors += 1;
                }
                Err(_) => panics.push((label, text)),
            }
        }
    }
    let total = ok + errors + panics.len();
    eprintln!(
        "{total} mutants: {ok} ran, {errors} rejected, {} panicked; slowest {slowest:?}",
        panics.len()
    );
    assert!(total >= 1000);
    if let Some((label, text)) = panics.first() {
        panic!(
            "{} mutants panicked; the first, {label}:\n{text}",
            panics.len()
        );
    }
    // A hang would show as a run far longer than the event limit allows.
    assert!(
        slowest < Duration::from_secs(30),
        "a mutant ran for {slowest:?}"
    );
}

/// The command line on a mutant: exit 0, 1 or 2, and a message on stderr unless 0.
fn through_the_binary(label: &str, text: &str) {
    let dir = super::tempdir();
    std::fs::write(dir.path().join(label), text).unwrap();
    let out = super::gilsim(dir.path())
        .args(["run", label, "-q", "--no-charts", "--max-events", "20000"])
        .output()
        .unwrap();
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{label}: exit {code:?} (a signal?)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if code != Some(0) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.len() > 10,
            "{label}: {stderr}"
        );
    }
}
