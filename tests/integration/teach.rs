//! The teaching commands: latency, amdahl, quiz.

use predicates::prelude::*;

use super::{gilsim, is_png, tempdir};

#[test]
fn latency_prints_the_hierarchy_with_sources_and_human_scale() {
    let dir = tempdir();
    let out = gilsim(dir.path())
        .args(["latency", "--format", "csv", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("level,latency_s,human_scale,source,host_s")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() >= 10, "{text}");
    assert!(rows
        .iter()
        .any(|r| r.starts_with("L1 cache reference,1e-9,1.0 s,Scott 2020,")));
    assert!(rows.iter().any(|r| r.contains("4.8 years")));
    let png = dir.path().join("output/latency/latency.png");
    assert!(is_png(&png));
}

#[test]
fn latency_measure_fills_the_host_column() {
    let dir = tempdir();
    gilsim(dir.path())
        .args(["latency", "--measure", "-q"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Pointer chasing on this host"))
        .stdout(predicate::str::contains("256 MiB"));
    let csv = std::fs::read_to_string(dir.path().join("output/latency/latency.csv")).unwrap();
    let l1 = csv.lines().find(|l| l.starts_with("L1 cache")).unwrap();
    let host: f64 = l1.rsplit(',').next().unwrap().parse().unwrap();
    assert!(host > 0.0 && host < 1e-6, "{l1}");
}

#[test]
fn amdahl_csv_is_exactly_the_law() {
    let dir = tempdir();
    let out = gilsim(dir.path())
        .args([
            "amdahl",
            "--serial",
            "0.1",
            "--cores",
            "1,2,4,8,16,64",
            "--format",
            "csv",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 6);
    for row in rows {
        let n: f64 = row[0].parse().unwrap();
        let s: f64 = row[2].parse().unwrap();
        assert_eq!(s, 1.0 / (0.1 + 0.9 / n), "n = {n}");
        assert_eq!(row[1], "0.1");
    }
}

#[test]
fn amdahl_cores_range_doubles_and_options_add_columns() {
    let dir = tempdir();
    let out = gilsim(dir.path())
        .args([
            "amdahl",
            "--serial",
            "0.5",
            "--cores",
            "1..10",
            "--gustafson",
            "--usl",
            "0.1,0.01",
            "--format",
            "csv",
            "-q",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let cores: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(cores, ["1", "2", "4", "8", "10"]);
    // n = 2: Gustafson 2 + (1 - 2) 0.5 = 1.5; USL 2 / (1 + 0.1 + 0.02) = 1.7857…
    let two: Vec<&str> = text.lines().nth(2).unwrap().split(',').collect();
    assert_eq!(two[3], "1.5");
    assert!((two[4].parse::<f64>().unwrap() - 2.0 / 1.12).abs() < 1e-12);
}

#[test]
fn amdahl_measured_gives_karp_flatt_by_hand() {
    let dir = tempdir();
    let csv = dir.path().join("runs.csv");
    // Speedups 1, 2/1.25 = 1.6, 4... : T1 = 10 s; p = 2 → 6 s (S = 5/3); p = 4 → 4 s (S = 2.5).
    std::fs::write(&csv, "workers,seconds\n1,10\n2,6\n4,4\n").unwrap();
    let out = gilsim(dir.path())
        .args([
            "amdahl",
            "--serial",
            "0.1",
            "--cores",
            "1,2",
            "--format",
            "csv",
            "-q",
            "--measured",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    let text = super::succeeded(out);
    let measured: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| !r[5].is_empty())
        .collect();
    assert_eq!(measured.len(), 3);
    // p = 2: S = 10/6; e = (0.6 − 0.5) / 0.5 = 0.2.
    let e2: f64 = measured[1][6].parse().unwrap();
    assert!((e2 - 0.2).abs() < 1e-12, "{e2}");
    // p = 4: S = 2.5; e = (0.4 − 0.25) / 0.75 = 0.2.
    let e4: f64 = measured[2][6].parse().unwrap();
    assert!((e4 - 0.2).abs() < 1e-12, "{e4}");
    assert_eq!(measured[0][6], "", "no Karp–Flatt at p = 1");
    // Both points say 20 % serial: the Amdahl fit agrees.
    let fit: f64 = measured[0][1].parse().unwrap();
    assert!((fit - 0.2).abs() < 1e-3, "{fit}");
}

#[test]
fn amdahl_measured_takes_the_median_of_repeated_runs_in_worker_order() {
    let dir = tempdir();
    let csv = dir.path().join("runs.csv");
    // p = 1: 10, 12, 11 s → 11 s; p = 2: 6, 5 s → 5.5 s, so S = 2 at p = 2.
    std::fs::write(&csv, "workers,seconds\n2,6\n1,10\n1,12\n1,11\n2,5\n").unwrap();
    let out = gilsim(dir.path())
        .args([
            "amdahl", "--serial", "0.1", "--cores", "1", "--format", "csv",
        ])
        .args(["-q", "--no-charts", "--measured"])
        .arg(&csv)
        .output()
        .unwrap();
    let text = super::succeeded(out);
    let measured: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|r| !r[5].is_empty())
        .map(|r| (r[0].clone(), r[5].clone()))
        .collect();
    assert_eq!(
        measured,
        [("1".into(), "1".into()), ("2".into(), "2".into())],
        "{text}"
    );
}

#[test]
fn amdahl_rejects_bad_input_with_positions() {
    let dir = tempdir();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "workers,seconds\n1,10\n2,fast\n").unwrap();
    gilsim(dir.path())
        .args(["amdahl", "--measured"])
        .arg(&csv)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.csv:3:3: seconds must be a positive number",
        ));
    gilsim(dir.path())
        .args(["amdahl", "--serial", "1.5"])
        .assert()
        .code(2);
    gilsim(dir.path())
        .args(["amdahl", "--cores", "8..2"])
        .assert()
        .code(2);
}

#[test]
fn the_same_quiz_seed_asks_the_same_question_and_answers_with_a_picture() {
    let dir = tempdir();
    let ask = || {
        gilsim(dir.path())
            .args(["quiz", "--seed", "7"])
            .output()
            .unwrap()
            .stdout
    };
    let first = ask();
    assert_eq!(first, ask());
    let question = String::from_utf8(first).unwrap();
    assert!(question.contains("Which is fastest"));
    assert!(!question.contains("Answer\n"));
    assert!(question.contains("(Answer: gilsim quiz --seed 7 --answer)"));
    gilsim(dir.path())
        .args(["quiz", "--seed", "7", "--answer", "-q"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Fastest: "))
        // The answer does not point at itself.
        .stdout(predicate::str::contains("(Answer: gilsim").not());
    let out = dir.path().join("output/quiz-7");
    assert!(is_png(&out.join("timeline-serial.png")));
    assert!(out.join("scenario.toml").is_file());
}

#[test]
fn the_teaching_commands_print_their_csv_rows_as_json() {
    let dir = tempdir();
    for (args, file, key) in [
        (&["latency"][..], "output/latency/latency.csv", "latency_s"),
        (
            &["amdahl", "--serial", "0.1", "--cores", "1,2,4"][..],
            "output/amdahl/amdahl.csv",
            "amdahl_speedup",
        ),
    ] {
        let out = gilsim(dir.path())
            .args(args)
            .args(["--format", "json", "-q", "--no-charts"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let rows = json.as_array().expect("an array of rows");
        let csv = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert_eq!(rows.len(), csv.lines().count() - 1, "{args:?}");
        assert!(
            rows.iter().all(|r| r[key].is_number()),
            "{args:?}: {key} is a number in every row"
        );
    }
}
