//! `gilsim check FILE...`: validate scenario files only.

use crate::error::Error;
use crate::model;

pub(super) fn run(files: &[String]) -> Result<(), Error> {
    let host = crate::host::resolve(None)?;
    let mut first_error = None;
    for file in files {
        let result = super::load_source(Some(file))
            .and_then(|s| model::load(&s.label, &s.text, host.as_ref()).map_err(Error::from));
        match result {
            Ok(scenario) => {
                let rows: usize = scenario.experiments.iter().map(|e| e.workers.len()).sum();
                super::print_stdout(&format!(
                    "ok: {file}: \"{}\", {} experiments, {rows} result rows\n",
                    scenario.name,
                    scenario.experiments.len()
                ))?;
            }
            Err(e) => {
                eprintln!("error: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Ok(()),
        Some(e) => Err(Error::Reported(e.exit_code())),
    }
}
