//! The scenario file as written: serde types that mirror the TOML of DESIGN §2.
//!
//! This module owns *syntax*: every table rejects unknown keys, and every value that is
//! checked later keeps its byte span ([`Spanned`]) so that [`crate::model`] can report a bad
//! value at its file, line and column. Nothing here interprets units or applies defaults —
//! that is the model's job (the two-stage configuration of ripgrep: raw → validated).
//!
//! Values with more than one accepted shape (a duration is a string or a `{ mean, dist,
//! spread }` table; `workers` is a number or a list) are kept as [`toml::Value`] with their
//! span and interpreted by the model, which gives better messages than serde's untagged enums.
//!
//! The fields mirror DESIGN §2's keys one to one and are documented there (and on the
//! validated types of [`crate::model`]), so this module does not repeat a doc line per key.

#![allow(missing_docs)]

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::error::ScenarioError;

/// Deepest bracket nesting accepted before parsing. The TOML parser recurses on nesting, so
/// a hostile file of ten thousand `[` could overflow the stack; no real scenario needs more
/// than a handful of levels (a `repeat` inside a `repeat` is three).
pub const MAX_NESTING: usize = 64;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Display name (required).
    pub name: Spanned<String>,
    /// What the scenario shows and assumes.
    pub description: Option<String>,
    /// RNG seed for distributions.
    pub seed: Option<Spanned<i64>>,
    /// The experiment speedups divide.
    pub baseline: Option<Spanned<String>>,
    /// The machine: preset plus overrides.
    pub machine: Option<Spanned<RawMachine>>,
    /// CPython's costs and switching rules.
    pub python: Option<Spanned<RawPython>>,
    /// Task kinds, in file order.
    #[serde(default)]
    pub tasks: OrderedMap<Spanned<RawTaskKind>>,
    /// What every experiment runs unless it overrides a key.
    pub job: Option<Spanned<RawJob>>,
    /// The experiments, in file order.
    #[serde(default, rename = "experiment")]
    pub experiments: Vec<Spanned<RawExperiment>>,
}

/// `[machine]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMachine {
    pub preset: Option<Spanned<String>>,
    pub cores: Option<Spanned<i64>>,
    pub smt: Option<Spanned<i64>>,
    pub smt_speedup: Option<Spanned<f64>>,
    pub speed_spread: Option<Spanned<f64>>,
    pub frequency: Option<Spanned<Vec<Spanned<f64>>>>,
    pub time_slice: Option<Spanned<String>>,
    pub context_switch: Option<Spanned<String>>,
    pub wakeup: Option<Spanned<String>>,
    pub wakeup_cpu: Option<Spanned<String>>,
    pub process_switch: Option<Spanned<String>>,
    pub latency: Option<RawLevels>,
    pub bandwidth: Option<RawLevels>,
    pub sharing: Option<RawSharing>,
    pub cache: Option<RawCache>,
}

/// `[machine.sharing]`: per disk and link, the bandwidth with 1, 2, 3… transfers at once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSharing {
    pub ssd: Option<Spanned<Vec<Spanned<f64>>>>,
    pub hdd: Option<Spanned<Vec<Spanned<f64>>>>,
    pub loopback: Option<Spanned<Vec<Spanned<f64>>>>,
    pub lan: Option<Spanned<Vec<Spanned<f64>>>>,
    pub wan: Option<Spanned<Vec<Spanned<f64>>>>,
}

/// `[machine.latency]` and `[machine.bandwidth]`: one string per level of the hierarchy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLevels {
    pub l1: Option<Spanned<String>>,
    pub l2: Option<Spanned<String>>,
    pub l3: Option<Spanned<String>>,
    pub ram: Option<Spanned<String>>,
    pub ssd: Option<Spanned<String>>,
    pub hdd: Option<Spanned<String>>,
    pub loopback: Option<Spanned<String>>,
    pub lan: Option<Spanned<String>>,
    pub wan: Option<Spanned<String>>,
}

/// `[machine.cache]`: cache sizes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub l1: Option<Spanned<String>>,
    pub l2: Option<Spanned<String>>,
    pub l3: Option<Spanned<String>>,
}

/// `[python]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPython {
    pub gil: Option<Spanned<bool>>,
    pub switch_interval: Option<Spanned<String>>,
    pub thread_start: Option<Spanned<String>>,
    pub process_start: Option<RawStartMethods>,
    pub process_start_parent: Option<RawStartMethods>,
    pub process_exit: Option<RawStartMethods>,
    pub pool_setup: Option<RawStartMethods>,
    pub helper_start: Option<RawHelperStart>,
    pub pickle: Option<Spanned<String>>,
    pub ipc: Option<Spanned<String>>,
    pub ipc_cpu: Option<Spanned<String>>,
    pub ipc_latency: Option<Spanned<String>>,
    pub dispatch: Option<RawDispatch>,
    pub pool_worker: Option<Spanned<String>>,
    pub executor_lock: Option<RawExecutorLock>,
}

/// `executor_lock = { submit, done }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecutorLock {
    pub submit: Option<Spanned<String>>,
    pub done: Option<Spanned<String>>,
}

/// `helper_start = { resource_tracker, forkserver }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHelperStart {
    pub resource_tracker: Option<Spanned<String>>,
    pub forkserver: Option<Spanned<String>>,
}

/// `process_start = { fork, forkserver, spawn }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStartMethods {
    pub fork: Option<Spanned<String>>,
    pub forkserver: Option<Spanned<String>>,
    pub spawn: Option<Spanned<String>>,
}

/// `dispatch = { threads, processes, asyncio }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDispatch {
    pub threads: Option<Spanned<String>>,
    pub processes: Option<Spanned<String>>,
    pub asyncio: Option<Spanned<String>>,
}

/// `[tasks.<kind>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTaskKind {
    pub steps: Spanned<Vec<Spanned<RawStep>>>,
}

/// One step. Exactly one of the kind keys (`cpu io net disk mem repeat`) must be present;
/// the others qualify it. The model checks which combinations make sense.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub cpu: Option<Spanned<toml::Value>>,
    pub io: Option<Spanned<toml::Value>>,
    pub net: Option<Spanned<String>>,
    pub disk: Option<Spanned<String>>,
    pub mem: Option<Spanned<String>>,
    pub repeat: Option<Spanned<i64>>,
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub bytes: Option<Spanned<String>>,
    pub op: Option<Spanned<String>>,
    pub device: Option<Spanned<String>>,
    pub fsync: Option<Spanned<bool>>,
    pub pattern: Option<Spanned<String>>,
    pub gil: Option<Spanned<bool>>,
    pub blocking: Option<Spanned<bool>>,
}

/// `[job]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub tasks: Option<Spanned<OrderedMap<Spanned<i64>>>>,
    pub setup: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub teardown: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub payload: Option<Spanned<String>>,
    pub result: Option<Spanned<String>>,
}

/// `[[experiment]]`: a strategy plus overrides of any `[job]` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub name: Spanned<String>,
    pub strategy: Spanned<String>,
    pub workers: Option<Spanned<toml::Value>>,
    pub start_method: Option<Spanned<String>>,
    pub chunksize: Option<Spanned<i64>>,
    pub tasks: Option<Spanned<OrderedMap<Spanned<i64>>>>,
    pub setup: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub teardown: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub payload: Option<Spanned<String>>,
    pub result: Option<Spanned<String>>,
}

/// A TOML table kept in file order (`tasks = { download = 10, crunch = 10 }` submits the
/// downloads first). Needs toml's `preserve_order` feature, which this crate enables.
#[derive(Debug)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

/// Parses the text of a scenario file. `file` names it in error messages.
pub fn parse(file: &str, text: &str) -> Result<RawScenario, ScenarioError> {
    check_nesting(file, text)?;
    toml::from_str::<RawScenario>(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let key = key_before(text, offset);
        ScenarioError::at(file, text, offset, tidy_toml_message(e.message(), key))
    })
}

/// Keys whose string values are names or words, not quantities with units.
const WORD_KEYS: [&str; 10] = [
    "name",
    "description",
    "baseline",
    "preset",
    "strategy",
    "start_method",
    "net",
    "op",
    "device",
    "pattern",
];

/// The key of the `key = value` whose value starts at `offset`, if the text there reads so.
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let before = text.get(..offset)?.trim_end();
    let before = before.strip_suffix('=')?.trim_end();
    let key = before
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .next()?;
    Some(key).filter(|k| !k.is_empty())
}

/// toml's messages are good but speak serde ("invalid type: integer `4`, expected a
/// string"); this keeps them and adds what a scenario author needs to know. `key` is the
/// key whose value is wrong, when the text shows it.
fn tidy_toml_message(message: &str, key: Option<&str>) -> String {
    let message = message.trim();
    if message.starts_with("unknown field") {
        format!("{message} (unknown keys are errors: check the spelling against DESIGN §2)")
    } else if message.starts_with("invalid type") && message.ends_with("expected i64") {
        format!("{}a whole number", message.trim_end_matches("i64"))
    } else if message.starts_with("invalid type") && message.ends_with("expected f64") {
        format!("{}a number such as 1.25", message.trim_end_matches("f64"))
    } else if message.contains("expected a string") && message.starts_with("invalid type") {
        if key.is_some_and(|k| WORD_KEYS.contains(&k)) {
            return format!("{message}: write it in quotes");
        }
        format!("{message}: write the value as a string with a unit, like \"5ms\" or \"4MiB\"")
    } else {
        message.to_string()
    }
}

/// Rejects files nested deeper than [`MAX_NESTING`] brackets before the recursive parser
/// sees them. Strings and comments are skipped so brackets inside them do not count.
fn check_nesting(file: &str, text: &str) -> Result<(), ScenarioError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'"' | b'\'') => {
                let triple = bytes[i..].starts_with(&[quote; 3]);
                if triple {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(&[quote; 3]) {
                        i += if quote == b'"' && bytes[i] == b'\\' {
                            2
                        } else {
                            1
                        };
                    }
                    i += 2;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                        i += if quote == b'"' && bytes[i] == b'\\' {
                            2
                        } else {
                            1
                        };
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ScenarioError::at(
                        file,
                        text,
                        i,
                        format!(
                            "brackets nested more than {MAX_NESTING} deep; flatten the scenario \
                             (a `repeat` needs only three levels)"
                        ),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_table_keeps_file_order() {
        let raw = parse(
            "t.toml",
            "name = \"x\"\n[job]\ntasks = { zeta = 1, alpha = 2, mid = 3 }\n",
        )
        .unwrap();
        let tasks = raw.job.unwrap().into_inner().tasks.unwrap().into_inner();
        let keys: Vec<_> = tasks.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_position() {
        let err = parse("t.toml", "name = \"x\"\n[machine]\ncoars = 4\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 1));
        assert!(
            err.message.contains("unknown field `coars`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_key_before_a_value_is_found_in_tables_and_inline_tables() {
        let text = "name = 5\nsteps = [{ cpu = 5, op= 3 }]\n";
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(key_before(text, at("5\n")), Some("name"));
        assert_eq!(key_before(text, at("5,")), Some("cpu"));
        assert_eq!(key_before(text, at("3 ")), Some("op"));
        assert_eq!(key_before(text, at("[{")), Some("steps"));
        assert_eq!(key_before(text, 0), None);
        assert_eq!(key_before("é = 1", "é = ".len()), None);
        assert_eq!(key_before("x = \"é\"\ny = 1", 13), Some("y"));
        assert_eq!(key_before(text, at("{")), None);
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let text = format!(
            "name = \"x\"\nv = {}{}\n",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let err = parse("deep.toml", &text).unwrap_err();
        assert!(err.message.contains("nested more than"));
        assert_eq!(err.line, 2);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = format!(
            "name = \"{}\" # {}\ndescription = '''{}'''\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100)
        );
        parse("s.toml", &text).unwrap();
    }
}
