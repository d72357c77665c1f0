//! The validated scenario: units resolved, defaults applied, every value checked.
//!
//! [`load`] turns the raw file ([`crate::scenario`]) into a [`Scenario`] the engine can run
//! without further checks. Every rejection names the file, line and column of the value and
//! says what was expected. Decisions where DESIGN is silent are recorded here:
//!
//! - no `[machine]` means `preset = "host"`;
//! - no `[[experiment]]` means the four strategies with their default workers;
//! - default workers: `threads` uses ThreadPoolExecutor's `min(32, cpu_count + 4)`,
//!   `processes` uses `Pool()`'s `cpu_count` (hardware threads of the machine);
//! - default `start_method` is `fork` (CPython ≤ 3.13 on Linux);
//! - a duration table without `dist` is fixed; `spread` defaults to 0.1 for `uniform` and
//!   `normal` and is an error for `fixed` and `exp`;
//! - `net` needs no `bytes` (a bare round trip); `disk` defaults to `op = "read"`,
//!   `device = "ssd"`; `mem` defaults to `pattern = "sequential"`.

pub mod machine;
pub mod preset;
pub mod program;
pub mod python;

use toml::Spanned;

use crate::error::ScenarioError;
use crate::scenario::{self, OrderedMap, RawExperiment, RawScenario, RawStep};
use crate::time::SimDuration;
use crate::units;

pub use machine::Machine;
pub use preset::Preset;
pub use program::{Channel, Dist, Instr, Program, Transfer};
pub use python::Python;

/// Most task instances one experiment may run (each costs a few dozen bytes of bookkeeping).
pub const MAX_TASKS: u64 = 10_000_000;

/// Most steps one job may take, every task's repeats multiplied out: each step is at least
/// one event, and the default `--max-events` would stop the run long before.
pub const MAX_STEPS: u64 = 1_000_000_000;
/// Most workers one experiment may start (each is a simulated thread with its own lane).
pub const MAX_WORKERS: i64 = 65_536;

/// A concurrency strategy (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The main thread runs everything.
    Serial,
    /// `ThreadPoolExecutor(workers)`.
    Threads,
    /// `multiprocessing.Pool(workers).map`.
    Processes,
    /// One event loop, one coroutine per task.
    Asyncio,
}

impl Strategy {
    /// The name used in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Serial => "serial",
            Strategy::Threads => "threads",
            Strategy::Processes => "processes",
            Strategy::Asyncio => "asyncio",
        }
    }
}

/// How `multiprocessing` starts a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMethod {
    /// `fork`.
    Fork,
    /// `forkserver`.
    Forkserver,
    /// `spawn`.
    Spawn,
}

impl StartMethod {
    /// Every method.
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Fork,
        StartMethod::Forkserver,
        StartMethod::Spawn,
    ];

    /// The name used in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Forkserver => "forkserver",
            StartMethod::Spawn => "spawn",
        }
    }
}

/// A named kind of task and its program.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskKind {
    /// `[tasks.<name>]`.
    pub name: String,
    /// Its steps.
    pub program: Program,
}

/// What an experiment runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// (kind index, instances), in submission order.
    pub tasks: Vec<(usize, u64)>,
    /// Serial work before the tasks, in the main thread.
    pub setup: Program,
    /// Serial work after every task finished.
    pub teardown: Program,
    /// Bytes pickled into each task (processes).
    pub payload: u64,
    /// Bytes pickled back from each task (processes).
    pub result: u64,
}

impl Job {
    /// Number of task instances.
    pub fn task_count(&self) -> u64 {
        self.tasks.iter().map(|&(_, n)| n).sum()
    }
}

/// One `[[experiment]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// Unique name.
    pub name: String,
    /// Strategy.
    pub strategy: Strategy,
    /// Worker counts: one value, or several for a sweep (one result row each).
    pub workers: Vec<u32>,
    /// Process start method (processes only; `fork` otherwise).
    pub start_method: StartMethod,
    /// Tasks per Pool message; `None` is Pool.map's own rule.
    pub chunksize: Option<u32>,
    /// The job, with this experiment's overrides applied.
    pub job: Job,
}

/// A scenario ready to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// RNG seed.
    pub seed: u64,
    /// The machine.
    pub machine: Machine,
    /// CPython's runtime.
    pub python: Python,
    /// Task kinds in file order.
    pub kinds: Vec<TaskKind>,
    /// Experiments in file order.
    pub experiments: Vec<Experiment>,
    /// Index of the baseline experiment.
    pub baseline: usize,
    /// Non-fatal remarks (an uncalibrated host, an unused task kind).
    pub warnings: Vec<String>,
}

/// Parses and validates a scenario. `file` is how errors name it.
pub fn load(file: &str, text: &str, host: Option<&Preset>) -> Result<Scenario, ScenarioError> {
    let raw = scenario::parse(file, text)?;
    let mut ctx = Ctx {
        file,
        text,
        warnings: Vec::new(),
    };
    build(&mut ctx, &raw, host)
}

/// Reads a host profile: `[machine]` and `[python]` tables only, on top of the
/// uncalibrated host preset (detected hardware threads and documented defaults).
pub fn load_profile(file: &str, text: &str) -> Result<Preset, ScenarioError> {
    // The scenario grammar wants a name; add one on a line of its own and shift positions
    // back so errors point into the user's file.
    let wrapped = format!("name = \"host profile\"\n{text}");
    let unshift = |mut e: ScenarioError| {
        e.line = e.line.saturating_sub(1).max(1);
        e
    };
    let raw = scenario::parse(file, &wrapped).map_err(unshift)?;
    let mut ctx = Ctx {
        file,
        text: &wrapped,
        warnings: Vec::new(),
    };
    if !raw.experiments.is_empty() || !raw.tasks.0.is_empty() || raw.job.is_some() {
        return Err(ScenarioError::at(
            file,
            text,
            0,
            "a host profile has only [machine] and [python] tables",
        ));
    }
    let mut machine = machine::build(&mut ctx, raw.machine.as_ref(), None).map_err(unshift)?;
    machine.preset = "host".into();
    let mut base = preset::default_python();
    // A profile written before `calibrate` split a Pool's start (docs/decisions.md, "Pool
    // start") has the whole `Pool(1)` lifecycle in `process_start`: the parent's share, the
    // exit and the setup are inside it, not to be added again from the defaults.
    if raw.python.as_ref().is_some_and(|p| {
        let p = p.get_ref();
        p.process_start.is_some()
            && p.process_start_parent.is_none()
            && p.process_exit.is_none()
            && p.pool_setup.is_none()
    }) {
        base.process_start_parent = python::StartCosts::all(SimDuration::ZERO);
        base.process_exit = python::StartCosts::all(SimDuration::ZERO);
        base.pool_setup = python::StartCosts::all(SimDuration::ZERO);
    }
    let python = python::build(&mut ctx, base, raw.python.as_ref()).map_err(unshift)?;
    Ok(Preset { machine, python })
}

/// Validation context: where we are, for messages.
pub(crate) struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    pub(crate) fn error(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.file, self.text, offset, message)
    }

    pub(crate) fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    fn at<T>(&self, s: &Spanned<impl Sized>, r: Result<T, String>) -> Result<T, ScenarioError> {
        r.map_err(|m| self.error(s.span().start, m))
    }

    pub(crate) fn duration(&self, s: &Spanned<String>) -> Result<SimDuration, ScenarioError> {
        self.at(s, units::parse_duration(s.get_ref()))
    }

    pub(crate) fn positive_duration(
        &self,
        s: &Spanned<String>,
        what: &str,
    ) -> Result<SimDuration, ScenarioError> {
        let d = self.duration(s)?;
        if d.is_zero() {
            return Err(self.error(
                s.span().start,
                format!("{what} must be more than zero, found \"{}\"", s.get_ref()),
            ));
        }
        Ok(d)
    }

    pub(crate) fn size(&self, s: &Spanned<String>) -> Result<u64, ScenarioError> {
        self.at(s, units::parse_size(s.get_ref()))
    }

    pub(crate) fn rate(&self, s: &Spanned<String>) -> Result<f64, ScenarioError> {
        self.at(s, units::parse_rate(s.get_ref()))
    }

    pub(crate) fn int_in(
        &self,
        s: &Spanned<i64>,
        min: i64,
        max: i64,
        what: &str,
    ) -> Result<i64, ScenarioError> {
        let v = *s.get_ref();
        if v < min || v > max {
            return Err(self.error(
                s.span().start,
                format!("{what} must be between {min} and {max}, found {v}"),
            ));
        }
        Ok(v)
    }

    /// A duration written as `"5ms"` or `{ mean = "5ms", dist = "normal", spread = 0.1 }`.
    fn dist(&self, s: &Spanned<toml::Value>) -> Result<Dist, ScenarioError> {
        let pos = s.span().start;
        match s.get_ref() {
            toml::Value::String(text) => self
                .at(s, units::parse_duration(text))
                .map(Dist::Fixed),
            toml::Value::Table(t) => {
                for key in t.keys() {
                    if !matches!(key.as_str(), "mean" | "dist" | "spread") {
                        return Err(self.error(
                            pos,
                            format!(
                                "unknown key `{key}` in a duration table; expected mean, dist, spread"
                            ),
                        ));
                    }
                }
                let mean = match t.get("mean") {
                    Some(toml::Value::String(m)) => self.at(s, units::parse_duration(m))?,
                    Some(_) => {
                        return Err(self.error(
                            pos,
                            "`mean` must be a duration string such as \"400ms\"",
                        ))
                    }
                    None => {
                        return Err(self.error(
                            pos,
                            "a duration table needs `mean`, e.g. { mean = \"400ms\", dist = \"normal\", spread = 0.05 }",
                        ))
                    }
                };
                let dist = match t.get("dist") {
                    None => "fixed",
                    Some(toml::Value::String(d)) => d.as_str(),
                    Some(_) => {
                        return Err(self.error(
                            pos,
                            "`dist` must be one of \"fixed\", \"uniform\", \"normal\", \"exp\"",
                        ))
                    }
                };
                let spread = match t.get("spread") {
                    None => None,
                    Some(toml::Value::Float(f)) => Some(*f),
                    Some(toml::Value::Integer(i)) => Some(*i as f64),
                    Some(_) => {
                        return Err(self.error(pos, "`spread` must be a number such as 0.05"))
                    }
                };
                let m = mean.0 as f64;
                let check_spread = |max: f64| -> Result<f64, ScenarioError> {
                    let v = spread.unwrap_or(0.1);
                    if !(v.is_finite() && v >= 0.0 && v <= max) {
                        return Err(self.error(
                            pos,
                            format!("`spread` for dist = \"{dist}\" must be between 0 and {max}, found {v}"),
                        ));
                    }
                    Ok(v)
                };
                match dist {
                    "fixed" | "exp" if spread.is_some() => Err(self.error(
                        pos,
                        format!("`spread` has no meaning for dist = \"{dist}\"; remove it or use \"normal\"/\"uniform\""),
                    )),
                    "fixed" => Ok(Dist::Fixed(mean)),
                    "exp" => Ok(Dist::Exp { mean: m }),
                    "uniform" => Ok(Dist::Uniform {
                        mean: m,
                        spread: check_spread(1.0)?,
                    }),
                    "normal" => Ok(Dist::Normal {
                        mean: m,
                        spread: check_spread(10.0)?,
                    }),
                    other => Err(self.error(
                        pos,
                        format!("unknown dist \"{other}\"; expected \"fixed\", \"uniform\", \"normal\" or \"exp\""),
                    )),
                }
            }
            other => Err(self.error(
                pos,
                format!(
                    "expected a duration like \"5ms\" or a table {{ mean, dist, spread }}, found {}",
                    other.type_str()
                ),
            )),
        }
    }
}

fn build(
    ctx: &mut Ctx,
    raw: &RawScenario,
    host: Option<&Preset>,
) -> Result<Scenario, ScenarioError> {
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(ctx.error(raw.name.span().start, "name must not be empty"));
    }
    let seed = match &raw.seed {
        Some(s) if *s.get_ref() < 0 => {
            return Err(ctx.error(s.span().start, "seed must be 0 or more"))
        }
        Some(s) => *s.get_ref() as u64,
        None => 0,
    };
    let machine = machine::build(ctx, raw.machine.as_ref(), host)?;
    let preset_name = machine.preset.clone();
    let python = python::build(ctx, preset::python(&preset_name, host), raw.python.as_ref())?;

    let mut kinds = Vec::with_capacity(raw.tasks.0.len());
    for (kind_name, kind) in &raw.tasks.0 {
        let steps = &kind.get_ref().steps;
        if steps.get_ref().is_empty() {
            return Err(ctx.error(
                steps.span().start,
                format!("task kind `{kind_name}` has no steps; give it at least one, e.g. steps = [{{ cpu = \"10ms\" }}]"),
            ));
        }
        let program = build_program(ctx, &machine, steps.get_ref())?;
        kinds.push(TaskKind {
            name: kind_name.clone(),
            program,
        });
    }

    let job_raw = raw.job.as_ref().map(Spanned::get_ref);
    let default_job = PartialJob::from_job(ctx, &machine, &kinds, job_raw)?;

    let mut experiments = Vec::new();
    if raw.experiments.is_empty() {
        let job = default_job
            .clone()
            .finish(ctx, raw.job.as_ref().map_or(0, |j| j.span().start))?;
        for strategy in [
            Strategy::Serial,
            Strategy::Threads,
            Strategy::Processes,
            Strategy::Asyncio,
        ] {
            experiments.push(Experiment {
                name: strategy.name().to_string(),
                strategy,
                workers: vec![default_workers(strategy, &machine)],
                start_method: StartMethod::Fork,
                chunksize: None,
                job: job.clone(),
            });
        }
    }
    for e in &raw.experiments {
        let exp = build_experiment(ctx, &machine, &kinds, &default_job, e)?;
        if let Some(prev) = experiments
            .iter()
            .position(|p: &Experiment| p.name == exp.name)
        {
            return Err(ctx.error(
                e.get_ref().name.span().start,
                format!(
                    "experiment name \"{}\" is used twice (experiment {} and {}); names must be unique",
                    exp.name,
                    prev + 1,
                    experiments.len() + 1
                ),
            ));
        }
        experiments.push(exp);
    }

    let baseline = match &raw.baseline {
        None => 0,
        Some(b) => experiments
            .iter()
            .position(|e| e.name == *b.get_ref())
            .ok_or_else(|| {
                ctx.error(
                    b.span().start,
                    format!(
                        "baseline \"{}\" is not an experiment; expected one of: {}",
                        b.get_ref(),
                        experiments
                            .iter()
                            .map(|e| e.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
    };

    for (i, kind) in kinds.iter().enumerate() {
        let used = experiments
            .iter()
            .any(|e| e.job.tasks.iter().any(|&(k, _)| k == i));
        if !used {
            ctx.warn(format!(
                "task kind `{}` is defined but no experiment runs it",
                kind.name
            ));
        }
    }

    Ok(Scenario {
        name,
        description: raw
            .description
            .clone()
            .unwrap_or_default()
            .trim()
            .to_string(),
        seed,
        machine,
        python,
        kinds,
        experiments,
        baseline,
        warnings: std::mem::take(&mut ctx.warnings),
    })
}

/// Default worker count of a strategy on a machine.
pub fn default_workers(strategy: Strategy, machine: &Machine) -> u32 {
    let cpus = machine.hw_threads();
    match strategy {
        Strategy::Serial | Strategy::Asyncio => 1,
        // concurrent.futures.thread: max_workers = min(32, (os.cpu_count() or 1) + 4)
        Strategy::Threads => (cpus + 4).min(32),
        // multiprocessing.Pool: processes = os.cpu_count() or 1
        Strategy::Processes => cpus,
    }
}

/// A job whose keys may still be missing (the `[job]` table before experiments override it).
#[derive(Clone)]
struct PartialJob {
    tasks: Option<Vec<(usize, u64)>>,
    setup: Program,
    teardown: Program,
    payload: u64,
    result: u64,
}

impl PartialJob {
    fn from_job(
        ctx: &Ctx,
        machine: &Machine,
        kinds: &[TaskKind],
        raw: Option<&scenario::RawJob>,
    ) -> Result<Self, ScenarioError> {
        let mut job = PartialJob {
            tasks: None,
            setup: Program::default(),
            teardown: Program::default(),
            payload: 0,
            result: 0,
        };
        if let Some(raw) = raw {
            job.apply(
                ctx,
                machine,
                kinds,
                &raw.tasks,
                &raw.setup,
                &raw.teardown,
                &raw.payload,
                &raw.result,
            )?;
        }
        Ok(job)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        ctx: &Ctx,
        machine: &Machine,
        kinds: &[TaskKind],
        tasks: &Option<Spanned<OrderedMap<Spanned<i64>>>>,
        setup: &Option<Spanned<Vec<Spanned<RawStep>>>>,
        teardown: &Option<Spanned<Vec<Spanned<RawStep>>>>,
        payload: &Option<Spanned<String>>,
        result: &Option<Spanned<String>>,
    ) -> Result<(), ScenarioError> {
        if let Some(t) = tasks {
            self.tasks = Some(build_task_list(ctx, kinds, t)?);
        }
        if let Some(s) = setup {
            self.setup = build_program(ctx, machine, s.get_ref())?;
        }
        if let Some(s) = teardown {
            self.teardown = build_program(ctx, machine, s.get_ref())?;
        }
        if let Some(p) = payload {
            self.payload = ctx.size(p)?;
        }
        if let Some(r) = result {
            self.result = ctx.size(r)?;
        }
        Ok(())
    }

    fn finish(self, ctx: &Ctx, pos: usize) -> Result<Job, ScenarioError> {
        let tasks = self.tasks.unwrap_or_default();
        if tasks.is_empty() {
            return Err(ctx.error(
                pos,
                "empty job: nothing to run; give [job] (or the experiment) tasks = { <kind> = <count> }",
            ));
        }
        Ok(Job {
            tasks,
            setup: self.setup,
            teardown: self.teardown,
            payload: self.payload,
            result: self.result,
        })
    }
}

fn build_task_list(
    ctx: &Ctx,
    kinds: &[TaskKind],
    raw: &Spanned<OrderedMap<Spanned<i64>>>,
) -> Result<Vec<(usize, u64)>, ScenarioError> {
    let mut list = Vec::new();
    let (mut total, mut steps): (u64, u64) = (0, 0);
    for (name, count) in &raw.get_ref().0 {
        let kind = kinds.iter().position(|k| k.name == *name).ok_or_else(|| {
            ctx.error(
                count.span().start,
                if kinds.is_empty() {
                    format!(
                        "unknown task kind `{name}`: the scenario defines no [tasks.<kind>] tables"
                    )
                } else {
                    format!(
                        "unknown task kind `{name}`; defined kinds: {}",
                        kinds
                            .iter()
                            .map(|k| k.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            )
        })?;
        let n = *count.get_ref();
        if n < 1 {
            return Err(ctx.error(
                count.span().start,
                format!("task count for `{name}` must be at least 1, found {n}"),
            ));
        }
        total = total.saturating_add(n as u64);
        if total > MAX_TASKS {
            return Err(ctx.error(
                count.span().start,
                format!("more than {MAX_TASKS} tasks in one job; lower the counts"),
            ));
        }
        let per_task = kinds[kind].program.step_count();
        steps = steps.saturating_add(per_task.saturating_mul(n as u64));
        if steps > MAX_STEPS {
            return Err(ctx.error(
                count.span().start,
                format!(
                    "this job runs about {:.1e} steps in all ({n} × `{name}` of {per_task} steps \
                     each, repeats multiplied out); at most {MAX_STEPS} are simulated: lower \
                     this count or the `repeat` counts of `{name}`",
                    steps as f64
                ),
            ));
        }
        list.push((kind, n as u64));
    }
    Ok(list)
}

fn build_experiment(
    ctx: &Ctx,
    machine: &Machine,
    kinds: &[TaskKind],
    default_job: &PartialJob,
    spanned: &Spanned<RawExperiment>,
) -> Result<Experiment, ScenarioError> {
    let e = spanned.get_ref();
    let name = e.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(ctx.error(e.name.span().start, "experiment name must not be empty"));
    }
    let strategy = match e.strategy.get_ref().as_str() {
        "serial" => Strategy::Serial,
        "threads" => Strategy::Threads,
        "processes" => Strategy::Processes,
        "asyncio" => Strategy::Asyncio,
        other => {
            return Err(ctx.error(
                e.strategy.span().start,
                format!("unknown strategy \"{other}\"; expected \"serial\", \"threads\", \"processes\" or \"asyncio\""),
            ))
        }
    };
    let pooled = matches!(strategy, Strategy::Threads | Strategy::Processes);
    let workers = match &e.workers {
        None => vec![default_workers(strategy, machine)],
        Some(w) if !pooled => {
            return Err(ctx.error(
                w.span().start,
                format!(
                    "workers applies to threads and processes, not {}",
                    strategy.name()
                ),
            ))
        }
        Some(w) => parse_workers(ctx, w)?,
    };
    let start_method = match &e.start_method {
        None => StartMethod::Fork,
        Some(s) if strategy != Strategy::Processes => {
            return Err(ctx.error(s.span().start, "start_method applies only to strategy = \"processes\""))
        }
        Some(s) => match s.get_ref().as_str() {
            "fork" => StartMethod::Fork,
            "forkserver" => StartMethod::Forkserver,
            "spawn" => StartMethod::Spawn,
            other => {
                return Err(ctx.error(
                    s.span().start,
                    format!("unknown start_method \"{other}\"; expected \"fork\", \"forkserver\" or \"spawn\""),
                ))
            }
        },
    };
    let chunksize = match &e.chunksize {
        None => None,
        Some(c) if strategy != Strategy::Processes => {
            return Err(ctx.error(
                c.span().start,
                "chunksize applies only to strategy = \"processes\"",
            ))
        }
        Some(c) => Some(ctx.int_in(c, 1, MAX_TASKS as i64, "chunksize")? as u32),
    };
    let mut job = default_job.clone();
    job.apply(
        ctx,
        machine,
        kinds,
        &e.tasks,
        &e.setup,
        &e.teardown,
        &e.payload,
        &e.result,
    )?;
    let job = job.finish(ctx, spanned.span().start)?;
    Ok(Experiment {
        name,
        strategy,
        workers,
        start_method,
        chunksize,
        job,
    })
}

fn parse_workers(ctx: &Ctx, w: &Spanned<toml::Value>) -> Result<Vec<u32>, ScenarioError> {
    let pos = w.span().start;
    let one = |v: &toml::Value| -> Result<u32, ScenarioError> {
        match v {
            toml::Value::Integer(n) if (1..=MAX_WORKERS).contains(n) => Ok(*n as u32),
            toml::Value::Integer(n) => Err(ctx.error(
                pos,
                format!("workers must be between 1 and {MAX_WORKERS}, found {n}"),
            )),
            other => Err(ctx.error(
                pos,
                format!(
                    "workers must be a whole number or a list of them, found {}",
                    other.type_str()
                ),
            )),
        }
    };
    match w.get_ref() {
        toml::Value::Array(items) => {
            if items.is_empty() {
                return Err(ctx.error(
                    pos,
                    "workers = [] has no values; give at least one, e.g. [1, 2, 4]",
                ));
            }
            if items.len() > 1000 {
                return Err(ctx.error(pos, "a workers sweep may have at most 1000 values"));
            }
            items.iter().map(one).collect()
        }
        v => Ok(vec![one(v)?]),
    }
}

/// Which keys a step may carry besides its kind key.
fn build_program(
    ctx: &Ctx,
    machine: &Machine,
    steps: &[Spanned<RawStep>],
) -> Result<Program, ScenarioError> {
    let mut program = Program::default();
    append_steps(ctx, machine, steps, 1, &mut program)?;
    Ok(program)
}

fn append_steps(
    ctx: &Ctx,
    machine: &Machine,
    steps: &[Spanned<RawStep>],
    depth: usize,
    out: &mut Program,
) -> Result<(), ScenarioError> {
    for step in steps {
        append_step(ctx, machine, step, depth, out)?;
    }
    Ok(())
}

fn append_step(
    ctx: &Ctx,
    machine: &Machine,
    spanned: &Spanned<RawStep>,
    depth: usize,
    out: &mut Program,
) -> Result<(), ScenarioError> {
    let s = spanned.get_ref();
    let pos = spanned.span().start;
    let kinds: Vec<&str> = [
        ("cpu", s.cpu.is_some()),
        ("io", s.io.is_some()),
        ("net", s.net.is_some()),
        ("disk", s.disk.is_some()),
        ("mem", s.mem.is_some()),
        ("repeat", s.repeat.is_some()),
    ]
    .iter()
    .filter(|(_, present)| *present)
    .map(|(k, _)| *k)
    .collect();
    let kind =
        match kinds.as_slice() {
            [k] => *k,
            [] => return Err(ctx.error(
                pos,
                "a step needs one kind: cpu, io, net, disk, mem or repeat (e.g. { cpu = \"5ms\" })",
            )),
            many => {
                return Err(ctx.error(
                    pos,
                    format!(
                        "one step has two kinds ({}); split it into separate steps",
                        many.join(" and ")
                    ),
                ))
            }
        };
    // Qualifier keys each kind accepts.
    let allowed: &[&str] = match kind {
        "cpu" => &["gil"],
        "io" => &["blocking"],
        "net" => &["bytes", "blocking"],
        "disk" => &["op", "device", "fsync", "blocking"],
        "mem" => &["pattern", "gil"],
        _ => &["steps"],
    };
    let qualifiers: [(&str, Option<usize>); 8] = [
        ("steps", s.steps.as_ref().map(|v| v.span().start)),
        ("bytes", s.bytes.as_ref().map(|v| v.span().start)),
        ("op", s.op.as_ref().map(|v| v.span().start)),
        ("device", s.device.as_ref().map(|v| v.span().start)),
        ("fsync", s.fsync.as_ref().map(|v| v.span().start)),
        ("pattern", s.pattern.as_ref().map(|v| v.span().start)),
        ("gil", s.gil.as_ref().map(|v| v.span().start)),
        ("blocking", s.blocking.as_ref().map(|v| v.span().start)),
    ];
    for (key, at) in qualifiers {
        if let Some(at) = at {
            if !allowed.contains(&key) {
                let hint = match key {
                    "gil" => {
                        " (gil = false applies to cpu and mem steps; I/O always releases the GIL)"
                    }
                    "blocking" => " (blocking applies to io, net and disk steps)",
                    _ => "",
                };
                return Err(ctx.error(
                    at,
                    format!(
                        "`{key}` does not apply to {} {kind} step{hint}",
                        if kind == "io" { "an" } else { "a" }
                    ),
                ));
            }
        }
    }
    let gil = s.gil.as_ref().is_none_or(|g| *g.get_ref());
    let blocking = s.blocking.as_ref().is_some_and(|b| *b.get_ref());
    let io = |time: SimDuration| Instr::Io {
        time: Dist::Fixed(time),
        blocking,
    };
    // Bytes through a disk or a link share its bandwidth with the transfers in progress
    // on it (docs/decisions.md, "Shared disks and links"); a step without bytes is a wait.
    let transfer = |out: &mut Program, latency: SimDuration, bytes: u64, tail, channel, write| {
        let instr = if bytes == 0 {
            io(latency + tail)
        } else {
            out.transfers.push(program::Transfer {
                latency,
                bytes,
                tail,
                channel,
                write,
            });
            Instr::Transfer {
                index: u32::try_from(out.transfers.len() - 1).expect("steps are limited"),
                blocking,
            }
        };
        out.instrs.push(instr);
    };
    match kind {
        "cpu" => out.instrs.push(Instr::Cpu {
            work: ctx.dist(s.cpu.as_ref().expect("kind"))?,
            gil,
        }),
        "io" => out.instrs.push(Instr::Io {
            time: ctx.dist(s.io.as_ref().expect("kind"))?,
            blocking,
        }),
        "net" => {
            let n = s.net.as_ref().expect("kind");
            let link = match n.get_ref().as_str() {
                "loopback" => Channel::Loopback,
                "lan" => Channel::Lan,
                "wan" => Channel::Wan,
                other => {
                    return Err(ctx.error(
                        n.span().start,
                        format!("unknown network link \"{other}\"; expected \"loopback\", \"lan\" or \"wan\""),
                    ))
                }
            };
            let bytes = s.bytes.as_ref().map_or(Ok(0), |b| ctx.size(b))?;
            // A link's latency is one round trip.
            let rtt = machine.channel_latency(link);
            transfer(out, rtt, bytes, SimDuration::ZERO, link, false);
        }
        "disk" => {
            let d = s.disk.as_ref().expect("kind");
            let bytes = ctx.size(d)?;
            let write = s.op.as_ref().is_some_and(|op| op.get_ref() == "write");
            if let Some(op) = &s.op {
                if !matches!(op.get_ref().as_str(), "read" | "write") {
                    return Err(ctx.error(
                        op.span().start,
                        format!(
                            "unknown disk op \"{}\"; expected \"read\" or \"write\"",
                            op.get_ref()
                        ),
                    ));
                }
            }
            let device = match s.device.as_ref().map(|d| (d, d.get_ref().as_str())) {
                None | Some((_, "ssd")) => Channel::Ssd,
                Some((_, "hdd")) => Channel::Hdd,
                Some((d, other)) => {
                    return Err(ctx.error(
                        d.span().start,
                        format!("unknown disk device \"{other}\"; expected \"ssd\" or \"hdd\""),
                    ))
                }
            };
            let latency = machine.channel_latency(device);
            let fsync = s.fsync.as_ref().is_some_and(|f| *f.get_ref());
            let tail = if fsync { latency } else { SimDuration::ZERO };
            transfer(out, latency, bytes, tail, device, write);
        }
        "mem" => {
            let m = s.mem.as_ref().expect("kind");
            let bytes = ctx.size(m)?;
            let level = machine.level_for(bytes);
            let (latency, bw) = machine.mem_costs(level);
            let work = match s.pattern.as_ref().map(|p| (p, p.get_ref().as_str())) {
                None | Some((_, "sequential")) => units::transfer_time(bytes, bw),
                Some((_, "random")) => latency.saturating_mul(bytes.div_ceil(64)),
                Some((p, other)) => {
                    return Err(ctx.error(
                        p.span().start,
                        format!(
                        "unknown memory pattern \"{other}\"; expected \"sequential\" or \"random\""
                    ),
                    ))
                }
            };
            out.instrs.push(Instr::Cpu {
                work: Dist::Fixed(work),
                gil,
            });
        }
        _ => {
            let r = s.repeat.as_ref().expect("kind");
            let count = *r.get_ref();
            if count < 1 {
                return Err(ctx.error(
                    r.span().start,
                    format!("repeat must be at least 1, found {count}"),
                ));
            }
            if depth > program::MAX_REPEAT_DEPTH {
                return Err(ctx.error(
                    r.span().start,
                    format!(
                        "repeat nested more than {} deep; flatten the loops (multiply the counts)",
                        program::MAX_REPEAT_DEPTH
                    ),
                ));
            }
            let body = s.steps.as_ref().filter(|b| !b.get_ref().is_empty()).ok_or_else(|| {
                ctx.error(
                    pos,
                    "repeat needs a non-empty steps list, e.g. { repeat = 10, steps = [{ io = \"1ms\" }] }",
                )
            })?;
            let header = out.instrs.len();
            out.instrs.push(Instr::Repeat {
                count: count as u64,
                end: 0,
            });
            append_steps(ctx, machine, body.get_ref(), depth + 1, out)?;
            if out.instrs.len() > u32::MAX as usize / 2 {
                return Err(ctx.error(pos, "too many steps in one program"));
            }
            let end = out.instrs.len() as u32;
            out.instrs[header] = Instr::Repeat {
                count: count as u64,
                end,
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_ok(text: &str) -> Scenario {
        load("t.toml", text, None).unwrap_or_else(|e| panic!("{e}"))
    }

    const BASE: &str = r#"
name = "t"
[machine]
preset = "laptop-2c4t"
[tasks.work]
steps = [{ cpu = "10ms" }]
[job]
tasks = { work = 3 }
"#;

    #[test]
    fn no_experiments_means_all_four_strategies() {
        let s = load_ok(BASE);
        let names: Vec<_> = s.experiments.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["serial", "threads", "processes", "asyncio"]);
        // 2 cores × 2 threads: ThreadPoolExecutor uses min(32, 4 + 4), Pool uses 4.
        assert_eq!(s.experiments[1].workers, [8]);
        assert_eq!(s.experiments[2].workers, [4]);
    }

    #[test]
    fn a_sharing_list_is_checked_where_it_is_written() {
        let s = load_ok(
            &format!("{BASE}[machine.sharing]\nssd = [1.0, 1.2]\n").replace(
                "[machine]\npreset = \"laptop-2c4t\"\n",
                "[machine]\npreset = \"laptop-2c4t\"\n",
            ),
        );
        assert_eq!(s.machine.sharing[Channel::Ssd.index()], [1.0, 1.2]);
        assert_eq!(s.machine.sharing[Channel::Wan.index()], [1.0]);
        let bw = s.machine.channel_bandwidth(Channel::Ssd);
        assert_eq!(s.machine.shared_bandwidth(Channel::Ssd, 1), bw);
        assert_eq!(s.machine.shared_bandwidth(Channel::Ssd, 7), bw * 1.2);
        for (list, want) in [
            ("[]", "at least one value"),
            ("[1.0, -2.0]", "between 0 and 64, found -2"),
        ] {
            let text = format!("{BASE}[machine.sharing]\nlan = {list}\n");
            let e = load("t.toml", &text, None).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("t.toml:"), "{e}");
        }
        let e = load(
            "t.toml",
            &format!("{BASE}[machine.sharing]\nram = [1.0]\n"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ram"), "{e}");
    }

    #[test]
    fn derived_steps_use_the_latency_hierarchy() {
        let s = load_ok(&format!(
            "{BASE}[tasks.d]\nsteps = [{{ net = \"lan\", bytes = \"125KB\" }}, \
             {{ disk = \"2MB\", fsync = true }}, {{ mem = \"1GiB\", pattern = \"random\" }}]\n"
        ));
        let prog = &s.kinds[1].program;
        let p = &prog.instrs;
        let alone = |i: &Instr| match i {
            Instr::Transfer { index, .. } => {
                let xfer = prog.transfer(*index);
                xfer.alone(s.machine.channel_bandwidth(xfer.channel))
            }
            other => panic!("not a transfer: {other:?}"),
        };
        // 500us round trip + 125 KB through the LAN at 1 Gbit/s (1 ms)
        assert_eq!(
            prog.transfers[0],
            Transfer {
                latency: SimDuration::from_micros(500),
                bytes: 125_000,
                tail: SimDuration::ZERO,
                channel: Channel::Lan,
                write: false,
            }
        );
        assert_eq!(alone(&p[0]), SimDuration::from_micros(1500));
        // 100us + 2 MB through the SSD at 2 GB/s (1 ms) + fsync's second 100us
        assert_eq!(
            prog.transfers[1],
            Transfer {
                latency: SimDuration::from_micros(100),
                bytes: 2_000_000,
                tail: SimDuration::from_micros(100),
                channel: Channel::Ssd,
                write: false,
            }
        );
        assert_eq!(
            p[1],
            Instr::Transfer {
                index: 1,
                blocking: false
            }
        );
        assert_eq!(alone(&p[1]), SimDuration::from_micros(1200));
        // A round trip without bytes is a plain wait.
        let bare = load_ok(&format!("{BASE}[tasks.d]\nsteps = [{{ net = \"lan\" }}]\n"));
        assert_eq!(
            bare.kinds[1].program.instrs[0],
            Instr::Io {
                time: Dist::Fixed(SimDuration::from_micros(500)),
                blocking: false
            }
        );
        // 2^30 / 64 lines × 100 ns
        assert_eq!(
            p[2],
            Instr::Cpu {
                work: Dist::Fixed(SimDuration((1u64 << 30) / 64 * 100)),
                gil: true
            }
        );
        assert!(s.warnings.iter().any(|w| w.contains("`d`")));
    }

    #[test]
    fn experiments_override_job_keys() {
        let s = load_ok(&format!(
            "{BASE}[[experiment]]\nname = \"a\"\nstrategy = \"serial\"\n\
             [[experiment]]\nname = \"b\"\nstrategy = \"processes\"\nworkers = [1, 2]\ntasks = {{ work = 9 }}\npayload = \"1KB\"\n"
        ));
        assert_eq!(s.experiments[0].job.task_count(), 3);
        assert_eq!(s.experiments[1].job.task_count(), 9);
        assert_eq!(s.experiments[1].job.payload, 1000);
        assert_eq!(s.experiments[1].workers, [1, 2]);
    }
}
