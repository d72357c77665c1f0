//! `gilsim scenarios`: one bundled scenario per line with its one-line description.

use crate::bundled;
use crate::error::Error;

pub(super) fn run() -> Result<(), Error> {
    let width = bundled::SCENARIOS
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for s in bundled::SCENARIOS {
        out.push_str(&format!(
            "{:width$}  {}\n",
            s.name,
            bundled::summary_line(s)
        ));
    }
    super::print_stdout(&out)
}
