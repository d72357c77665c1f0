//! The scenarios shipped inside the binary (`scenarios/*.toml`), so that `gilsim run NAME`
//! works from any directory and `gilsim run` alone has something to show.

/// A bundled scenario.
#[derive(Debug)]
pub struct Bundled {
    /// Name used on the command line (the file stem).
    pub name: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

/// The scenario `gilsim run` uses without an argument.
pub const DEFAULT: &str = "default";

macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(Bundled { name: $name, text: include_str!(concat!("../scenarios/", $name, ".toml")) }),*]
    };
}

/// Every bundled scenario, in the order `gilsim scenarios` lists them.
pub static SCENARIOS: &[Bundled] = bundled![
    "default",
    "gil-convoy",
    "gil-multicore",
    "costly-task-io",
    "costly-task-cpu",
    "kaggle-cpu-heavy",
    "kaggle-numpy-dot",
    "kaggle-downloads",
    "kaggle-file-write",
    "shared-link",
    "dataframe-apply",
    "asyncio-sleep",
    "latency-tour",
    "amdahl-demo",
];

/// The bundled scenario with this name.
pub fn find(name: &str) -> Option<&'static Bundled> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// The first line of a scenario's description (or its name).
pub fn summary_line(s: &Bundled) -> String {
    crate::scenario::parse(s.name, s.text)
        .ok()
        .and_then(|raw| {
            raw.description
                .as_deref()
                .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
                .map(str::to_string)
                .or(Some(raw.name.into_inner()))
        })
        .unwrap_or_default()
}
