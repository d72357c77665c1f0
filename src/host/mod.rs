//! This machine: measuring it (`gilsim calibrate`) and the host profile it writes.
//!
//! The profile (`output/host.toml` by default) has the same keys as a scenario's
//! `[machine]` and `[python]` tables, each value followed by a comment saying how it was
//! measured or why it was not. `preset = "host"` uses it; `--host PATH` names another.
//! Values that cannot be measured from user space without special privileges or hardware
//! (time slice, context-switch cost without CPU pinning, HDD, LAN, WAN) keep their
//! documented defaults and say so.

pub mod measure;

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, ScenarioError};
use crate::model::{Channel, Machine, Preset, Python};
use crate::time::SimDuration;

/// Where `gilsim calibrate` writes and `preset = "host"` looks by default.
pub const DEFAULT_PATH: &str = "output/host.toml";

/// The CPython probe script (run with `python3 -c`).
pub const PYTHON_PROBE: &str = include_str!("probe.py");

/// How each value of a profile was obtained, by key (`machine.wakeup`, `python.pickle`).
pub type Notes = Vec<(String, String)>;

fn how<'a>(notes: &'a Notes, key: &str) -> &'a str {
    notes
        .iter()
        .find(|(k, _)| k == key)
        .map_or("not measured: documented default", |(_, h)| h.as_str())
}

fn dur(d: SimDuration) -> String {
    format!("\"{}ns\"", d.as_nanos())
}

fn rate(r: f64) -> String {
    format!("\"{}B/s\"", r.round() as u64)
}

fn put(out: &mut String, notes: &Notes, key: &str, section: &str, value: String) {
    let _ = writeln!(
        out,
        "{key} = {value}  # {}",
        how(notes, &format!("{section}.{key}"))
    );
}

/// A `[section]` of durations, each with its note.
fn durations_table(out: &mut String, notes: &Notes, section: &str, keys: &[(&str, SimDuration)]) {
    let _ = writeln!(out, "\n[{section}]");
    for &(k, v) in keys {
        put(out, notes, k, section, dur(v));
    }
}

/// The profile as TOML text, with a comment after every value.
pub fn render(preset: &Preset, notes: &Notes, header: &str) -> String {
    let m: &Machine = &preset.machine;
    let p: &Python = &preset.python;
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let mut text = String::new();
    {
        text.push_str("\n[machine]\n");
        let frequency = m
            .frequency
            .iter()
            .map(|f| format!("{f}"))
            .collect::<Vec<_>>()
            .join(", ");
        for (k, v) in [
            ("cores", m.cores.to_string()),
            ("smt", m.smt.to_string()),
            ("smt_speedup", format!("{}", m.smt_speedup)),
            ("frequency", format!("[{frequency}]")),
            ("speed_spread", format!("{}", m.speed_spread)),
            ("time_slice", dur(m.time_slice)),
            ("context_switch", dur(m.context_switch)),
            ("wakeup", dur(m.wakeup)),
            ("wakeup_cpu", dur(m.wakeup_cpu)),
            ("process_switch", dur(m.process_switch)),
        ] {
            put(&mut text, notes, k, "machine", v);
        }
        durations_table(&mut text, notes, "machine.latency", &m.latency.named());
        text.push_str("\n[machine.bandwidth]\n");
        for (k, v) in m.bandwidth.named() {
            put(&mut text, notes, k, "machine.bandwidth", rate(v));
        }
        text.push_str("\n[machine.sharing]\n");
        for c in Channel::ALL {
            let list = m.sharing[c.index()]
                .iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join(", ");
            put(
                &mut text,
                notes,
                c.key(),
                "machine.sharing",
                format!("[{list}]"),
            );
        }
        text.push_str("\n[machine.cache]\n");
        for (k, v) in [("l1", m.cache[0]), ("l2", m.cache[1]), ("l3", m.cache[2])] {
            put(&mut text, notes, k, "machine.cache", format!("\"{v}B\""));
        }
        text.push_str("\n[python]\n");
        for (k, v) in [
            ("gil", p.gil.to_string()),
            ("switch_interval", dur(p.switch_interval)),
            ("thread_start", dur(p.thread_start)),
            ("pickle", rate(p.pickle)),
            ("ipc", rate(p.ipc)),
            ("ipc_latency", dur(p.ipc_latency)),
            ("pool_worker", dur(p.pool_worker)),
        ] {
            put(&mut text, notes, k, "python", v);
        }
        if let Some(cpu) = p.ipc_cpu {
            put(&mut text, notes, "ipc_cpu", "python", rate(cpu));
        }
        let (s, h, d, l) = (
            &p.process_start,
            &p.helper_start,
            &p.dispatch,
            &p.executor_lock,
        );
        let per_method = |c: &crate::model::python::StartCosts| {
            [
                ("fork", c.fork),
                ("forkserver", c.forkserver),
                ("spawn", c.spawn),
            ]
        };
        let (s, parent, exit, setup) = (
            per_method(s),
            per_method(&p.process_start_parent),
            per_method(&p.process_exit),
            per_method(&p.pool_setup),
        );
        let tables: [(&str, &[(&str, SimDuration)]); 7] = [
            ("python.process_start", &s),
            ("python.process_start_parent", &parent),
            ("python.process_exit", &exit),
            ("python.pool_setup", &setup),
            (
                "python.helper_start",
                &[
                    ("resource_tracker", h.resource_tracker),
                    ("forkserver", h.forkserver),
                ],
            ),
            (
                "python.dispatch",
                &[
                    ("threads", d.threads),
                    ("processes", d.processes),
                    ("asyncio", d.asyncio),
                ],
            ),
            (
                "python.executor_lock",
                &[("submit", l.submit), ("done", l.done)],
            ),
        ];
        for (section, keys) in tables {
            durations_table(&mut text, notes, section, keys);
        }
    }
    out.push_str(&text);
    out
}

/// Reads a host profile.
pub fn load(path: &Path) -> Result<Preset, Error> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Scenario(ScenarioError::whole_file(
            &label,
            format!("cannot read the host profile: {e}"),
        ))
    })?;
    crate::model::load_profile(&label, &text).map_err(Error::Scenario)
}

/// The profile `--host` names, or `output/host.toml` when it exists, or none.
pub fn resolve(flag: Option<&Path>) -> Result<Option<Preset>, Error> {
    match flag {
        Some(p) => load(p).map(Some),
        None if Path::new(DEFAULT_PATH).is_file() => load(Path::new(DEFAULT_PATH)).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::preset;

    #[test]
    fn a_profile_round_trips_through_its_text() {
        let (mut machine, _) = preset::machine("laptop-4c8t", None).unwrap();
        machine.preset = "host".into();
        machine.frequency = vec![1.0, 0.823];
        machine.wakeup = SimDuration(23_456);
        machine.wakeup_cpu = SimDuration(17_001);
        machine.process_switch = SimDuration(11_234);
        machine.speed_spread = 0.073;
        machine.latency.l1 = SimDuration(2);
        machine.bandwidth.ram = 9_876_543_210.0;
        let mut python = preset::default_python();
        python.pickle = 1_345_166_833.0;
        python.process_start.spawn = SimDuration(148_019_692);
        python.process_start_parent.fork = SimDuration(1_734_001);
        python.pool_setup.forkserver = SimDuration(2_345_678);
        python.process_exit.spawn = SimDuration(19_876_543);
        python.pool_worker = SimDuration(27_345);
        let profile = Preset { machine, python };
        let notes = vec![(
            "machine.wakeup".to_string(),
            "condvar ping-pong".to_string(),
        )];
        let text = render(&profile, &notes, "test profile");
        assert!(text.contains("wakeup = \"23456ns\"  # condvar ping-pong"));
        let back = crate::model::load_profile("host.toml", &text).unwrap();
        assert_eq!(back, profile);
    }

    #[test]
    fn a_profile_from_before_the_split_pool_start_adds_no_default_parts() {
        use crate::model::python::StartCosts;
        let zero = StartCosts::all(SimDuration::ZERO);
        let old = "[python]\nprocess_start = { fork = \"9ms\" }\n";
        let p = crate::model::load_profile("host.toml", old).unwrap().python;
        assert_eq!(p.process_start.fork, SimDuration::from_millis(9));
        assert_eq!(
            (&p.process_start_parent, &p.process_exit, &p.pool_setup),
            (&zero, &zero, &zero)
        );
        // A profile with either new table keeps the defaults for what it does not set.
        let new = format!("{old}pool_setup = {{ fork = \"3ms\" }}\n");
        let p = crate::model::load_profile("host.toml", &new)
            .unwrap()
            .python;
        let defaults = preset::default_python();
        assert_eq!(p.process_start_parent, defaults.process_start_parent);
        assert_eq!(p.pool_setup.fork, SimDuration::from_millis(3));
        assert_ne!(defaults.process_start_parent, zero);
    }

    #[test]
    fn a_bad_profile_value_is_reported_at_its_line() {
        let err = crate::model::load_profile("host.toml", "[machine]\ncores = 0\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 9));
        let err = crate::model::load_profile(
            "host.toml",
            "[[experiment]]\nname = \"x\"\nstrategy = \"serial\"\n",
        )
        .unwrap_err();
        assert!(
            err.message.contains("only [machine] and [python]"),
            "{}",
            err.message
        );
    }
}
