//! The corpus of wrong scenario files in `tests/bad/`: each names on its first line the
//! position and message `gilsim check` must report (`# expect: LINE:COL: message`).

use super::{gilsim, repo, tempdir};

#[test]
fn every_bad_scenario_is_reported_at_its_position_with_exit_code_2() {
    let dir = tempdir();
    let mut files: Vec<_> = std::fs::read_dir(repo("tests/bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus has {} files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks its # expect: line", file.display()));
        let (position, message) = expect.split_once(": ").unwrap();
        let out = gilsim(dir.path()).arg("check").arg(file).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let wanted = format!("{}:{position}: ", file.display());
        let ok = out.status.code() == Some(2)
            && stderr.contains(&wanted)
            && stderr.contains(message)
            && !stderr.contains("panicked");
        if !ok {
            failures.push(format!(
                "{}: exit {:?}, wanted \"{wanted}…{message}\", got: {stderr}",
                file.display(),
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_scenarios_fail_run_too_and_write_nothing() {
    let dir = tempdir();
    gilsim(dir.path())
        .args([
            "run",
            repo("tests/bad/unknown-strategy.toml").to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stdout("");
    assert!(!dir.path().join("output").exists());
}

#[test]
fn deep_brackets_are_refused_not_a_stack_overflow() {
    let dir = tempdir();
    let path = dir.path().join("deep.toml");
    let text = format!(
        "name = \"deep\"\nx = {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    std::fs::write(&path, text).unwrap();
    gilsim(dir.path())
        .arg("check")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(
            predicates::str::contains("deep.toml:2:")
                .and(predicates::str::contains("nested more than")),
        );
}

#[test]
fn a_binary_file_is_a_clear_error() {
    let dir = tempdir();
    let path = dir.path().join("binary.toml");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    gilsim(dir.path())
        .arg("check")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not UTF-8"));
}

use predicates::prelude::PredicateBooleanExt;
