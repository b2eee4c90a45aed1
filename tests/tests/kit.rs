//! The build-host kit (infra/runner/, infra/runner-fleet.yaml) agrees with
//! the runner and the control plane's stack, and systemd accepts its unit.

use std::path::PathBuf;

use slipway_e2e::*;

fn read(path: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env("SLIPWAY_ROOT")).join(path)).unwrap()
}

/// `NAME=value` lines of the env file, comments skipped.
fn variables(env_file: &str) -> Vec<(String, String)> {
    env_file
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.split_once('=').expect("NAME=value");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// The number after `key` (`Key=300` in a unit, `Key: 300` in YAML).
fn number_after(text: &str, key: &str) -> u64 {
    let at = text.find(key).unwrap_or_else(|| panic!("{key} is set")) + key.len();
    text[at..]
        .trim_start_matches([':', '=', ' '])
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn every_variable_of_the_env_file_comes_from_an_output_of_the_stack_or_the_host() {
    let example = read("infra/runner/runner.env.example");
    let template = read("template.yaml");
    let outputs = &template[template.find("\nOutputs:").expect("the stack has outputs")..];
    let mut named = 0;
    for line in example.lines() {
        if let Some(output) = line.strip_prefix("# output ") {
            assert!(
                outputs.contains(&format!("\n  {output}:\n")),
                "template.yaml has no output {output}"
            );
            named += 1;
        }
    }
    assert_eq!(
        named, 7,
        "queue, two dead-letter queues, table, bucket, key, region"
    );
    let names: Vec<String> = variables(&example).into_iter().map(|(n, _)| n).collect();
    // What the runner will not start without, and its registry login.
    for required in [
        "SLIPWAY_QUEUE_URL",
        "SLIPWAY_TABLE",
        "SLIPWAY_BUCKET",
        "SLIPWAY_KMS_KEY_ID",
        "SLIPWAY_REGISTRY",
        "SLIPWAY_REGISTRY_USERNAME",
        "SLIPWAY_REGISTRY_PASSWORD",
        "AWS_REGION",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "{required} is in the env file"
        );
    }
    // The fleet's hosts write the same file.
    let fleet = read("infra/runner-fleet.yaml");
    for name in &names {
        if name != "SLIPWAY_EDGE_ACME_EMAIL" {
            assert!(
                fleet.contains(&format!("{name}=")),
                "runner-fleet.yaml's hosts set {name}"
            );
        }
    }
}

#[test]
fn the_unit_outwaits_the_drain_and_the_fleet_outwaits_the_unit() {
    let unit = read("infra/runner/slipway-runner.service");
    let example = read("infra/runner/runner.env.example");
    let drain: u64 = variables(&example)
        .into_iter()
        .find(|(n, _)| n == "SLIPWAY_DRAIN_SECONDS")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    let stop = number_after(&unit, "TimeoutStopSec");
    assert!(
        stop >= drain + 30,
        "TimeoutStopSec={stop} with a {drain} s drain"
    );
    let fleet = read("infra/runner-fleet.yaml");
    let hook = number_after(&fleet, "HeartbeatTimeout");
    assert!(
        hook > stop,
        "the lifecycle hook ({hook} s) waits for the stop ({stop} s)"
    );
    assert!(unit.contains("Restart=always") && unit.contains("Requires=docker.service"));
    assert!(unit.contains("EnvironmentFile=/etc/slipway/runner.env"));
}

#[test]
fn systemd_verifies_the_unit() {
    // `systemd-analyze verify` wants the unit's program to exist: the unit
    // is checked as it is but for its ExecStart, which names the runner
    // this checkout built instead of /usr/local/bin's.
    let unit = read("infra/runner/slipway-runner.service");
    let runner = bin("slipway-runner");
    let installed = "ExecStart=/usr/local/bin/slipway-runner";
    assert!(unit.contains(installed));
    let dir = temp_dir("unit");
    let path = dir.join("slipway-runner.service");
    std::fs::write(
        &path,
        unit.replace(
            installed,
            &format!("ExecStart={}", runner.to_str().unwrap()),
        ),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .current_dir(&dir)
        .output()
        .expect("systemd-analyze runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
