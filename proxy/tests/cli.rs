//! The `proxy` binary as a user starts it: diagnostics, refusal to start on
//! broken rules, the start-up line, flags from the environment, and a clean
//! exit on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Listen on a free port, relay to a port nothing answers on: for tests
/// that never reach the upstream.
const OFFLINE: [&str; 4] = [
    "--listen",
    "127.0.0.1:0",
    "--upstream",
    "http://127.0.0.1:9",
];

fn proxy() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_proxy"));
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("RULEGATE_") {
            command.env_remove(name);
        }
    }
    command
}

fn shipped_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rulegate-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads the child's stderr until the start-up line; returns the address,
/// everything read so far, and a thread collecting the rest.
fn wait_for_listening(child: &mut Child) -> (String, String, std::thread::JoinHandle<String>) {
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr);
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap() == 0 {
            panic!("proxy exited before listening:\n{seen}");
        }
        seen.push_str(&line);
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let address = rest.split(',').next().unwrap().trim().to_owned();
            // Keep draining stderr so the child never blocks on a full pipe.
            let rest = std::thread::spawn(move || {
                let mut rest = String::new();
                let _ = lines.read_to_string(&mut rest);
                rest
            });
            return (address, seen, rest);
        }
    }
    panic!("no start-up line within 30 s:\n{seen}");
}

fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// A mock Messages API answering `text`, on a runtime of its own (the
/// runtime must live as long as the mock).
fn mock_upstream(
    text: &str,
) -> (
    tokio::runtime::Runtime,
    rulegate_mock_upstream::MockUpstream,
) {
    use rulegate_mock_upstream::{anthropic_responder, MockUpstream, Script};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let upstream = runtime
        .block_on(MockUpstream::start(anthropic_responder(Script::text(text))))
        .unwrap();
    (runtime, upstream)
}

/// Sends a POST with `headers` (each ending in CRLF) and a JSON `body` on a
/// fresh connection; returns the whole reply.
fn post_raw(address: &str, path: &str, headers: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn broken_rules_print_rulec_diagnostics_and_stop_the_start() {
    let dir = temp_dir("broken");
    std::fs::write(
        dir.join("bad.rules"),
        "rule leak {\n  match /sk-[a-z]+/\n  request mask \"[x]\"\n}\n",
    )
    .unwrap();
    let output = proxy()
        .args(["--rules"])
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let loaded = rulegate_lang::load(std::slice::from_ref(&dir)).unwrap();
    let mut expected = Vec::new();
    rulegate_lang::render_human(&loaded, &mut expected, false).unwrap();
    let expected = String::from_utf8(expected).unwrap();
    assert!(expected.contains("E0010"), "{expected}");
    assert!(
        stderr.starts_with(&expected),
        "got:\n{stderr}\nexpected:\n{expected}"
    );
    assert!(stderr.contains("refusing to start"));
    assert!(!stderr.contains("listening on"));
}

#[test]
fn starts_serves_healthz_and_stops_on_sigterm() {
    let mut child = proxy()
        .args(["--rules"])
        .arg(shipped_rules())
        .args(OFFLINE)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, log, _) = wait_for_listening(&mut child);
    assert!(log.contains("upstream http://127.0.0.1:9"), "{log}");
    let rule_count = rulegate_lang::load(&[shipped_rules()])
        .unwrap()
        .rule_count();
    assert!(log.contains(&format!("{rule_count} rules")), "{log}");
    let reply = get(&address, "/healthz");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("{\"status\":\"ok\"}"), "{reply}");

    sigterm(&mut child);
    assert!(TcpStream::connect(&address).is_err());
}

#[test]
fn every_flag_can_come_from_the_environment() {
    let mut child = proxy()
        .env("RULEGATE_RULES", shipped_rules())
        .env("RULEGATE_LISTEN", "127.0.0.1:0")
        .env("RULEGATE_UPSTREAM", "http://127.0.0.1:9/prefix")
        .env("RULEGATE_MAX_BODY_BYTES", "10")
        .env("RULEGATE_UPSTREAM_TIMEOUT", "0.5")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, log, _) = wait_for_listening(&mut child);
    assert!(log.contains("upstream http://127.0.0.1:9/prefix"), "{log}");
    // The 10-byte limit is in force.
    let body = r#"{"messages":[{"role":"user","content":"hello"}]}"#;
    let reply = post_raw(&address, "/v1/messages", "", body);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn limits_with_bad_values_are_usage_errors() {
    for (flag, value, says) in [
        (
            "--idle-timeout",
            "0",
            "--idle-timeout must be a positive number of seconds",
        ),
        (
            "--header-read-timeout",
            "-1",
            "--header-read-timeout must be a positive number",
        ),
        (
            "--max-header-bytes",
            "100",
            "--max-header-bytes must be at least 8192",
        ),
        (
            "--max-connections",
            "0",
            "--max-connections must be at least 1",
        ),
        (
            "--inspection-budget-bytes",
            "1000",
            "must hold at least one body of --max-body-bytes",
        ),
        (
            "--max-stream-secs",
            "nan",
            "--max-stream-secs must be a number of seconds (0: no limit)",
        ),
    ] {
        let output = proxy()
            .arg(format!("{flag}={value}"))
            .arg("--rules")
            .arg(shipped_rules())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mut child = proxy()
        .args(["--log-format", "json", "--listen", "127.0.0.1:0", "--rules"])
        .arg(shipped_rules())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut found = None;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if line.contains("listening on") {
            found = Some(line);
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let line = found.expect("a listening line");
    let value: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(value["fields"]["message"]
        .as_str()
        .unwrap()
        .starts_with("listening on http://127.0.0.1:"));
    assert_eq!(value["level"], "INFO");
}

#[test]
fn a_bad_upstream_url_is_a_usage_error() {
    let output = proxy()
        .args(["--upstream", "ftp://example.com", "--rules"])
        .arg(shipped_rules())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("http:// or https://"), "{stderr}");
}

#[test]
fn a_rules_directory_without_rules_files_refuses_to_start() {
    let dir = temp_dir("no-rules");
    std::fs::write(dir.join("company.rule"), "").unwrap();
    let output = proxy()
        .args(["--listen", "127.0.0.1:0", "--rules"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("holds no `*.rules` file"), "{stderr}");
}

#[test]
fn a_relayed_route_that_covers_an_inspected_one_refuses_to_start() {
    let output = proxy()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--relay",
            "POST /v1/**",
            "--rules",
        ])
        .arg(shipped_rules())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "the relayed route `POST /v1/**` would cover the inspected route `POST /v1/messages`"
        ),
        "{stderr}"
    );
    let bad = proxy()
        .args(["--relay", "/v1/x", "--rules"])
        .arg(shipped_rules())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

fn sigterm(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    wait_until("still running after SIGTERM", || {
        exited = child.try_wait().unwrap();
        exited.is_some()
    });
    let status = exited.unwrap();
    assert!(status.success(), "exit status {status}");
}

/// The logs name rules, actions and locations, and never a body, a header
/// value or a matched text.
#[test]
fn logs_say_what_fired_and_never_what_matched() {
    const TOKEN: &str = "ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh";
    const API_KEY: &str = "sk-ant-header-value-that-must-not-be-logged";
    let (_runtime, upstream) = mock_upstream("Write to jane.doe@northwind-mail.com today.");
    let mut child = proxy()
        .args(["--rules"])
        .arg(shipped_rules())
        .args(["--listen", "127.0.0.1:0", "--upstream", &upstream.url()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, _, rest) = wait_for_listening(&mut child);
    let body = format!(
        r#"{{"model":"m","max_tokens":9,"stream":true,"messages":[{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"t","content":"GITHUB_TOKEN={TOKEN}"}}]}}]}}"#
    );
    let reply = post_raw(
        &address,
        "/v1/messages",
        &format!("x-api-key: {API_KEY}\r\n"),
        &body,
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("[redacted:email]"), "{reply}");
    sigterm(&mut child);
    let log = rest.join().unwrap();
    let forwarded = upstream.requests().pop().unwrap();
    assert!(!String::from_utf8_lossy(&forwarded.body).contains(TOKEN));

    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("rulegate::access"))
        .collect();
    assert_eq!(access.len(), 1, "{log}");
    for expected in [
        "method=POST",
        "route=messages",
        "status=200",
        "latency_ms=",
        "github-token:mask",
        "email:mask",
    ] {
        assert!(
            access[0].contains(expected),
            "{expected} not in {}",
            access[0]
        );
    }
    assert!(
        log.lines().any(|l| l.contains("rulegate::audit")
            && l.contains("rule=github-token")
            && l.contains("side=request")
            && l.contains("scope=tool_result")
            && l.contains("location=messages[0].content[0].content")),
        "{log}"
    );
    for secret in [
        TOKEN,
        API_KEY,
        "jane.doe@northwind-mail.com",
        "GITHUB_TOKEN",
    ] {
        assert!(!log.contains(secret), "the log holds {secret}:\n{log}");
    }
}

/// Sends one inspected request whose tool result is `text`; returns the
/// status line.
fn post_tool_result(address: &str, text: &str) -> String {
    let body = format!(
        r#"{{"model":"m","max_tokens":9,"messages":[{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"t","content":"{text}"}}]}}]}}"#
    );
    let reply = post_raw(address, "/v1/messages", "x-api-key: k\r\n", &body);
    reply.lines().next().unwrap_or_default().to_owned()
}

/// Polls `done` until it holds; fails with `what` after 10 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}, after 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `/readyz` until the generation is `want`.
/// The generation `/readyz` reports.
fn generation(address: &str) -> u64 {
    let ready = get(address, "/readyz");
    ready
        .split("\"generation\":")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or_else(|| panic!("no generation in /readyz: {ready}"))
}

/// Waits until the generation is `want` or later (a change can be
/// reloaded twice, by the poll and by a signal).
fn wait_for_generation(address: &str, want: u64) {
    wait_until(&format!("no generation {want}"), || {
        generation(address) >= want
    });
}

/// Hot reload: SIGHUP and a changed file swap a new rule set in while
/// requests keep coming; a set with errors is refused, logged with its
/// diagnostics and counted, and the previous one serves on.
#[test]
fn rules_reload_on_sighup_and_on_change_and_a_broken_set_is_refused() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (_runtime, upstream) = mock_upstream("ok");
    let dir = temp_dir("reload");
    let rule = |name: &str| {
        format!("rule {name} {{\n  match /{name}-[0-9]{{4}}/\n  request mask \"[{name}]\"\n}}\n")
    };
    std::fs::write(dir.join("team.rules"), rule("alpha")).unwrap();
    let mut child = proxy()
        .args(["--rules"])
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0", "--upstream", &upstream.url()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A test that fails must not leave the gateway running.
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill").arg(self.0.to_string()).status();
        }
    }
    let _kill = Kill(child.id());
    let (address, _, rest) = wait_for_listening(&mut child);
    // Sends a request marked `step` and returns what went upstream.
    let step = |step: &str| {
        let status = post_tool_result(&address, &format!("{step} alpha-1234 beta-5678"));
        assert_eq!(status, "HTTP/1.1 200 OK", "{step}");
        upstream
            .requests()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .find(|body| body.contains(step))
            .unwrap_or_else(|| panic!("{step} was not forwarded"))
    };
    assert!(step("step1").contains("[alpha] beta-5678"));

    // Load while reloading: every request is answered.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let load = {
        let (address, stop) = (address.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                statuses.push(post_tool_result(&address, "load alpha-0000"));
            }
            statuses
        })
    };

    // SIGHUP with a second rule.
    std::fs::write(dir.join("team.rules"), rule("alpha") + &rule("beta")).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for_generation(&address, 2);
    // The poll may have seen the new file before the signal was handled:
    // then both reloaded it (generation 3). Once a poll has passed, no
    // reload is pending; the generation then is the one that must serve on.
    std::thread::sleep(Duration::from_millis(1500));
    let live = generation(&address);
    assert!(live == 2 || live == 3, "generation {live}");
    assert!(step("step2").contains("[alpha] [beta]"));

    // A broken set (no maximum length) is refused; generation 2 serves on.
    let broken = "rule leak {\n  match /sk-[a-z]+/\n  request mask \"[x]\"\n}\n";
    std::fs::write(dir.join("team.rules"), broken).unwrap();
    wait_until("the broken set was not noticed", || {
        get(&address, "/metrics").contains("rulegate_ruleset_reload_failures_total 1")
    });
    assert_eq!(generation(&address), live);
    assert!(step("step3").contains("[alpha] [beta]"));

    // Fixed, without a signal: the change itself reloads.
    std::fs::write(dir.join("team.rules"), rule("beta")).unwrap();
    wait_for_generation(&address, live + 1);
    assert!(step("step4").contains("alpha-1234 [beta]"));

    stop.store(true, Ordering::Relaxed);
    let statuses = load.join().unwrap();
    let failed: Vec<&String> = statuses
        .iter()
        .filter(|s| *s != "HTTP/1.1 200 OK")
        .collect();
    assert!(
        !statuses.is_empty() && failed.is_empty(),
        "{} of {} requests under load failed: {:?}",
        failed.len(),
        statuses.len(),
        &failed[..failed.len().min(5)]
    );
    let metrics = get(&address, "/metrics");
    assert!(
        metrics.contains(&format!("rulegate_ruleset_generation {}", live + 1)),
        "{metrics}"
    );
    sigterm(&mut child);
    let log = rest.join().unwrap();
    assert!(log.contains("rule set generation 2 live: 2 rules"), "{log}");
    assert!(log.contains("reload refused"), "{log}");
    assert!(
        log.contains("E0010"),
        "the refusal shows the diagnostics:\n{log}"
    );
    let fixed = format!("rule set generation {} live: 1 rules", live + 1);
    assert!(log.contains(&fixed), "{log}");
}

/// The gateway started with `--config FILE` alone: the child, its
/// address and its log up to the listening line.
fn start_with_config(config: &Path) -> (Child, String, String) {
    let mut child = proxy()
        .args(["--config"])
        .arg(config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, log, _) = wait_for_listening(&mut child);
    (child, address, log)
}

/// A TOML config file sets any flag by its name; flags and environment
/// override it; an unknown key is a usage error; several rules paths load
/// together, from the file, the flag or `RULEGATE_RULES`.
#[test]
fn a_config_file_sets_flags_and_flags_and_environment_override_it() {
    let dir = temp_dir("config");
    for name in ["one", "two"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(
            dir.join(name).join("r.rules"),
            format!("rule {name} {{\n  match /{name}-[0-9]{{4}}/\n  request mask \"[x]\"\n}}\n"),
        )
        .unwrap();
    }
    let config = dir.join("rulegate.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\nrules = [{:?}, {:?}]\nlog_format = \"json\"\nmax_body_bytes = 1000\ninspection_budget_bytes = 100000\n",
            dir.join("one"),
            dir.join("two")
        ),
    )
    .unwrap();
    let big = format!(
        r#"{{"model":"m","max_tokens":9,"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(2000)
    );
    let status_of_big = |address: &str| {
        let reply = post_raw(address, "/v1/messages", "", &big);
        reply.lines().next().unwrap_or_default().to_owned()
    };

    // From the file alone: JSON logs, both rules directories, the limit.
    let (mut child, address, log) = start_with_config(&config);
    let line = log.lines().find(|l| l.contains("listening on")).unwrap();
    assert!(line.starts_with('{'), "json logs from the file: {line}");
    assert!(line.contains("2 rules"), "{line}");
    assert!(status_of_big(&address).contains("413"));
    sigterm(&mut child);

    // A flag and the environment win over the file.
    let mut child = proxy()
        .env("RULEGATE_CONFIG", &config)
        .env("RULEGATE_MAX_BODY_BYTES", "5000")
        .args(["--log-format", "text"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, log, _) = wait_for_listening(&mut child);
    let line = log.lines().find(|l| l.contains("listening on")).unwrap();
    assert!(!line.starts_with('{'), "the flag wins: {line}");
    assert!(!status_of_big(&address).contains("413"));
    sigterm(&mut child);

    // Several rules paths from the environment.
    let mut child = proxy()
        .env(
            "RULEGATE_RULES",
            format!(
                "{},{}",
                dir.join("one").display(),
                dir.join("two").display()
            ),
        )
        .args(OFFLINE)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (_, log, _) = wait_for_listening(&mut child);
    assert!(log.contains("2 rules"), "{log}");
    sigterm(&mut child);

    // An unknown key names the keys there are.
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nmax_body = 5\n").unwrap();
    let output = proxy().args(["--config"]).arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown key `max_body`"), "{stderr}");
    assert!(stderr.contains("max_body_bytes"), "{stderr}");

    // A switch is a boolean: on, it is the flag (here refused: no way to
    // tell teams apart); off, it is left out.
    let rules = dir.join("one");
    std::fs::write(
        &config,
        format!("rules = [{rules:?}]\nlisten = \"127.0.0.1:0\"\nrequire_team = true\n"),
    )
    .unwrap();
    let output = proxy().args(["--config"]).arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--require-team need"), "{stderr}");
    std::fs::write(
        &config,
        format!("rules = [{rules:?}]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\nrequire_team = false\n"),
    )
    .unwrap();
    let (mut child, _, log) = start_with_config(&config);
    assert!(log.contains("1 rules"), "{log}");
    sigterm(&mut child);
}

/// The container's config file (deploy/k8s/rulegate.toml) names only
/// flags that exist, and the gateway starts with it and the team rules the
/// Kubernetes manifests mount beside the shipped packs.
#[test]
fn the_container_config_and_team_rules_start_the_gateway() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s");
    let rules = format!(
        "{},{}",
        shipped_rules().display(),
        deploy.join("team-rules").display()
    );
    let mut child = proxy()
        .args(["--config"])
        .arg(deploy.join("rulegate.toml"))
        .env("RULEGATE_RULES", rules)
        .args(OFFLINE)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, log, _) = wait_for_listening(&mut child);
    let shipped = rulegate_lang::load(&[shipped_rules()])
        .unwrap()
        .rule_count();
    assert!(log.contains(&format!("{} rules", shipped + 1)), "{log}");
    assert!(get(&address, "/readyz").contains("\"status\":\"ready\""));
    sigterm(&mut child);
}

/// Team tokens: a request without a known token is refused (401) and not
/// forwarded; the token never goes upstream, the client's own API key
/// does; the logs name the team, the client address, a keyed fingerprint
/// of the API key and Claude Code's session id, never the token or the
/// key.
#[test]
fn team_tokens_gate_requests_and_the_logs_say_who() {
    const TOKEN: &str = "tok-payments-0123456789abcdef";
    const API_KEY: &str = "sk-ant-api03-client-own-key-never-logged";
    const SESSION: &str = "0f9e8d7c-1111-4222-8333-444455556666";
    let (_runtime, upstream) = mock_upstream("ok");
    let dir = temp_dir("teams");
    let tokens = dir.join("teams");
    std::fs::write(&tokens, format!("# team token\npayments {TOKEN}\n")).unwrap();
    let mut child = proxy()
        .args(["--rules"])
        .arg(shipped_rules())
        .args(["--team-tokens"])
        .arg(&tokens)
        .args(["--fingerprint-key", "shared-secret"])
        .args(["--listen", "127.0.0.1:0", "--upstream", &upstream.url()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, _, rest) = wait_for_listening(&mut child);
    let send = |headers: &str| {
        let body = r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}"#;
        post_raw(&address, "/v1/messages", headers, body)
    };
    let none = send(&format!("x-api-key: {API_KEY}\r\n"));
    assert!(none.starts_with("HTTP/1.1 401"), "{none}");
    assert!(none.contains("authentication_error"), "{none}");
    let wrong = send(&format!(
        "x-api-key: {API_KEY}\r\nx-rulegate-token: tok-payments-0123456789abcdeX\r\n"
    ));
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    assert!(
        upstream.requests().is_empty(),
        "a refused request went upstream"
    );
    assert!(get(&address, "/healthz").starts_with("HTTP/1.1 200"));

    let ok = send(&format!(
        "x-api-key: {API_KEY}\r\nx-rulegate-token: {TOKEN}\r\nx-claude-code-session-id: {SESSION}\r\n"
    ));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let forwarded = upstream.requests().pop().unwrap();
    assert_eq!(forwarded.headers["x-api-key"], API_KEY);
    assert!(forwarded.headers.get("x-rulegate-token").is_none());

    sigterm(&mut child);
    let log = rest.join().unwrap();
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("rulegate::access") && l.contains("method=POST"))
        .collect();
    assert_eq!(access.len(), 3, "{log}");
    assert!(
        access[0].contains("status=401") && access[0].contains("team=-"),
        "{}",
        access[0]
    );
    let last = access[2];
    for expected in [
        "team=payments",
        "client=127.0.0.1",
        "key=fp:",
        &format!("session={SESSION}"),
    ] {
        assert!(last.contains(expected), "{expected} not in {last}");
    }
    // The same key, the same fingerprint, on every line.
    let fingerprint = |line: &str| {
        line.split("key=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(fingerprint(access[0]), fingerprint(last));
    for secret in [TOKEN, API_KEY, "shared-secret"] {
        assert!(!log.contains(secret), "the log holds {secret}:\n{log}");
    }
}

/// A directory with `base/base.rules` (rule `alpha` masking `alpha-NNNN`
/// as `[alpha]`) and, per team, `TEAM/policy.rules` holding its policy.
fn team_policies(name: &str, teams: &[(&str, &str)]) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join("base")).unwrap();
    std::fs::write(
        dir.join("base/base.rules"),
        "rule alpha {\n  match /alpha-[0-9]{4}/\n  request mask \"[alpha]\"\n}\n",
    )
    .unwrap();
    for (team, policy) in teams {
        std::fs::create_dir_all(dir.join(team)).unwrap();
        std::fs::write(dir.join(team).join("policy.rules"), policy).unwrap();
    }
    dir
}

/// Per-team policies: a team named in `--team-rules` is served with the
/// base rules and its own policy (here, one that disables a rule); other
/// teams get the base rules.
#[test]
fn each_team_gets_its_own_policy() {
    let (_runtime, upstream) = mock_upstream("ok");
    let dir = team_policies("team-policy", &[("payments", "disable alpha\n")]);
    std::fs::write(
        dir.join("teams"),
        "payments tok-payments-0123456789ab\nsearch tok-search-0123456789abcd\n",
    )
    .unwrap();
    let mut child = proxy()
        .args(["--rules"])
        .arg(dir.join("base"))
        .args(["--team-tokens"])
        .arg(dir.join("teams"))
        .arg(format!(
            "--team-rules=payments={}",
            dir.join("payments").display()
        ))
        .args(["--listen", "127.0.0.1:0", "--upstream", &upstream.url()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (address, log, _) = wait_for_listening(&mut child);
    assert!(log.contains("1 teams with rules of their own"), "{log}");
    let send = |token: &str, marker: &str| {
        let body = format!(
            r#"{{"model":"m","max_tokens":9,"messages":[{{"role":"user","content":"{marker} alpha-1234"}}]}}"#
        );
        let reply = post_raw(
            &address,
            "/v1/messages",
            &format!("x-rulegate-token: {token}\r\n"),
            &body,
        );
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        upstream
            .requests()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .find(|b| b.contains(marker))
            .unwrap()
    };
    assert!(send("tok-search-0123456789abcd", "from-search").contains("from-search [alpha]"));
    assert!(send("tok-payments-0123456789ab", "from-payments").contains("from-payments alpha-1234"));
    sigterm(&mut child);

    // Team rules without tokens to tell teams apart: a usage error.
    let output = proxy()
        .args(["--rules"])
        .arg(dir.join("base"))
        .arg(format!(
            "--team-rules=payments={}",
            dir.join("payments").display()
        ))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--team-tokens"));
}

/// Teams told apart by the API key (its fingerprint, printed by the
/// binary itself) and by a header a trusted front sets: each gets its
/// policy, the header never goes upstream, a header naming no known team,
/// or disagreeing with the key, is refused (403), and with
/// `--require-team` so is a request of no team.
#[test]
fn teams_by_api_key_and_by_header() {
    const PAYMENTS_KEY: &str = "sk-ant-api03-payments-team-key";
    let (_runtime, upstream) = mock_upstream("ok");
    let dir = team_policies(
        "team-keys",
        &[
            ("payments", "disable alpha\n"),
            (
                "research",
                "override alpha {\n  request mask \"[research]\"\n}\n",
            ),
        ],
    );

    // The operator computes the key's fingerprint with the binary.
    let mut printer = proxy()
        .args(["--print-key-fingerprint", "--fingerprint-key", "shared"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    printer
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PAYMENTS_KEY}\n").as_bytes())
        .unwrap();
    let printed = printer.wait_with_output().unwrap();
    assert!(printed.status.success());
    let fingerprint = String::from_utf8(printed.stdout).unwrap().trim().to_owned();
    assert!(
        fingerprint.starts_with("fp:") && fingerprint.len() == 19,
        "{fingerprint}"
    );
    std::fs::write(dir.join("keys"), format!("payments {fingerprint}\n")).unwrap();

    let start = |extra: &[&str]| {
        let mut child = proxy()
            .args(["--rules"])
            .arg(dir.join("base"))
            .args(["--team-keys"])
            .arg(dir.join("keys"))
            .args(["--fingerprint-key", "shared", "--team-header", "x-team"])
            .arg(format!(
                "--team-rules=payments={}",
                dir.join("payments").display()
            ))
            .arg(format!(
                "--team-rules=research={}",
                dir.join("research").display()
            ))
            .args(extra)
            .args(["--listen", "127.0.0.1:0", "--upstream", &upstream.url()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (address, log, _) = wait_for_listening(&mut child);
        assert!(log.contains("2 teams with rules of their own"), "{log}");
        (child, address)
    };
    let (mut child, address) = start(&[]);
    let send = |headers: &str, marker: &str| {
        let body = format!(
            r#"{{"model":"m","max_tokens":9,"messages":[{{"role":"user","content":"{marker} alpha-1234"}}]}}"#
        );
        let reply = post_raw(&address, "/v1/messages", headers, &body);
        let forwarded = upstream
            .requests()
            .into_iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains(marker));
        (reply, forwarded)
    };
    let body_of = |forwarded: Option<rulegate_mock_upstream::Recorded>| {
        String::from_utf8_lossy(&forwarded.expect("forwarded").body).into_owned()
    };
    let (reply, forwarded) = send(&format!("x-api-key: {PAYMENTS_KEY}\r\n"), "by-key");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(body_of(forwarded).contains("by-key alpha-1234"));
    let (_, forwarded) = send("x-api-key: sk-ant-someone-else\r\n", "no-team");
    assert!(body_of(forwarded).contains("no-team [alpha]"));
    let (_, forwarded) = send(
        "x-api-key: sk-ant-someone-else\r\nx-team: research\r\n",
        "by-header",
    );
    let forwarded = forwarded.expect("forwarded");
    assert!(String::from_utf8_lossy(&forwarded.body).contains("by-header [research]"));
    assert!(
        forwarded.headers.get("x-team").is_none(),
        "the team header went upstream"
    );
    for (headers, marker) in [
        ("x-team: nobody\r\n".to_owned(), "unknown-team"),
        (
            format!("x-api-key: {PAYMENTS_KEY}\r\nx-team: research\r\n"),
            "conflict",
        ),
        (
            "x-team: research\r\nx-team: research\r\n".to_owned(),
            "twice",
        ),
    ] {
        let (reply, forwarded) = send(&headers, marker);
        assert!(reply.starts_with("HTTP/1.1 403"), "{marker}: {reply}");
        assert!(reply.contains("permission_error"), "{marker}: {reply}");
        assert!(forwarded.is_none(), "{marker} went upstream");
    }
    sigterm(&mut child);

    let (mut child, address) = start(&["--require-team"]);
    let reply = post_raw(
        &address,
        "/v1/messages",
        "x-api-key: sk-ant-someone-else\r\n",
        r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"strict"}]}"#,
    );
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    assert!(reply.contains("no known team"), "{reply}");
    sigterm(&mut child);

    // Keys without a fixed fingerprint key: a usage error.
    let output = proxy()
        .args(["--rules"])
        .arg(dir.join("base"))
        .args(["--team-keys"])
        .arg(dir.join("keys"))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--fingerprint-key"));
}
