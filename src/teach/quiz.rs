//! Generated quizzes, in the spirit of the OSTEP homework simulators: a seeded random
//! small scenario, asked as a question (which strategy wins, and by how much?), answered
//! by simulating it. The same seed always gives the same quiz.

use crate::rng::Stream;

/// A generated question.
#[derive(Debug, Clone, PartialEq)]
pub struct Quiz {
    /// The seed that made it.
    pub seed: u64,
    /// The scenario, as a TOML file the user can run and edit.
    pub scenario: String,
    /// The question in words.
    pub question: String,
}

const MACHINES: [(&str, &str); 3] = [
    (
        "laptop-2c4t",
        "a laptop with 2 cores and 4 hardware threads",
    ),
    (
        "laptop-4c8t",
        "a laptop with 4 cores and 8 hardware threads",
    ),
    (
        "server-16c",
        "a server with 16 cores and 32 hardware threads",
    ),
];

fn pick<'a, T>(rng: &mut Stream, items: &'a [T]) -> &'a T {
    &items[((rng.unit() * items.len() as f64) as usize).min(items.len() - 1)]
}

fn between(rng: &mut Stream, lo: u64, hi: u64, step: u64) -> u64 {
    let steps = (hi - lo) / step;
    lo + step * ((rng.unit() * (steps + 1) as f64) as u64).min(steps)
}

/// The quiz for `seed`.
pub fn generate(seed: u64) -> Quiz {
    let mut rng = Stream::new(seed, 0x9012);
    let (preset, machine_words) = *pick(&mut rng, &MACHINES);

    // One or two kinds of task, each drawn from the three families of the articles.
    let families = ["io", "python", "nogil"];
    let first = *pick(&mut rng, &families);
    let mut kinds = vec![first];
    if rng.unit() < 0.5 {
        let second = *pick(&mut rng, &families);
        if second != first {
            kinds.push(second);
        }
    }
    let mut tasks_toml = String::new();
    let mut job = Vec::new();
    let mut words = Vec::new();
    for kind in &kinds {
        let count = between(&mut rng, 4, 24, 2);
        match *kind {
            "io" => {
                let link = *pick(&mut rng, &["lan", "wan"]);
                let kb = between(&mut rng, 10, 500, 10);
                let parse = between(&mut rng, 1, 10, 1);
                tasks_toml.push_str(&format!(
                    "[tasks.fetch]\nsteps = [{{ net = \"{link}\", bytes = \"{kb}KB\" }}, {{ cpu = \"{parse}ms\" }}]\n"
                ));
                job.push(format!("fetch = {count}"));
                words.push(format!(
                    "{count} downloads sharing one {} ({kb} KB each, then {parse} ms of Python \
                     to parse)",
                    if link == "lan" {
                        "local network"
                    } else {
                        "internet link"
                    }
                ));
            }
            "python" => {
                let ms = between(&mut rng, 50, 500, 50);
                tasks_toml.push_str(&format!(
                    "[tasks.crunch]\nsteps = [{{ cpu = \"{ms}ms\" }}]\n"
                ));
                job.push(format!("crunch = {count}"));
                words.push(format!("{count} pure-Python computations of {ms} ms each"));
            }
            _ => {
                let ms = between(&mut rng, 50, 500, 50);
                tasks_toml.push_str(&format!(
                    "[tasks.hash]\nsteps = [{{ cpu = \"{ms}ms\", gil = false }}]\n"
                ));
                job.push(format!("hash = {count}"));
                words.push(format!(
                    "{count} hashlib/numpy calls of {ms} ms each that release the GIL"
                ));
            }
        }
    }
    let workers = *pick(&mut rng, &[2u32, 4, 8, 16]);
    let payload_kb = between(&mut rng, 1, 2000, 1);
    let mut experiments =
        String::from("[[experiment]]\nname = \"serial\"\nstrategy = \"serial\"\n");
    experiments.push_str(&format!(
        "[[experiment]]\nname = \"threads\"\nstrategy = \"threads\"\nworkers = {workers}\n"
    ));
    experiments.push_str(&format!(
        "[[experiment]]\nname = \"processes\"\nstrategy = \"processes\"\nworkers = {workers}\n"
    ));
    let with_asyncio = kinds.contains(&"io") || rng.unit() < 0.3;
    if with_asyncio {
        experiments.push_str("[[experiment]]\nname = \"asyncio\"\nstrategy = \"asyncio\"\n");
    }
    let scenario = format!(
        "name = \"quiz {seed}\"\ndescription = \"A generated quiz: gilsim quiz --seed {seed}\"\n\
         [machine]\npreset = \"{preset}\"\n{tasks_toml}[job]\ntasks = {{ {} }}\n\
         payload = \"{payload_kb}KB\"\nresult = \"1KB\"\n{experiments}",
        job.join(", ")
    );
    let strategies = if with_asyncio {
        format!("serially, with {workers} threads, with {workers} processes, or with asyncio")
    } else {
        format!("serially, with {workers} threads, or with {workers} processes")
    };
    let question = format!(
        "Quiz {seed}\n\nOn {machine_words}, a Python program runs {}.\n\
         Each task's arguments pickle to {payload_kb} KB.\n\
         It can run {strategies}.\n\n\
         Which is fastest, and roughly what speedup does it get over running serially?\n\
         Why do the others fall behind?\n",
        words.join(" and ")
    );
    Quiz {
        seed,
        scenario,
        question,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_quiz_and_others_differ() {
        assert_eq!(generate(7), generate(7));
        let distinct: std::collections::BTreeSet<String> =
            (0..20).map(|s| generate(s).scenario).collect();
        assert!(distinct.len() > 15);
    }

    #[test]
    fn every_generated_scenario_is_valid() {
        for seed in 0..200 {
            let q = generate(seed);
            crate::model::load("quiz.toml", &q.scenario, None)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", q.scenario));
        }
    }
}
