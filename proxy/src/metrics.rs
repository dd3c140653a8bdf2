//! The gateway's Prometheus metrics, served at `GET /metrics` by the
//! gateway itself (never relayed).
//!
//! Invariants: labels carry only fixed names (route names, classes,
//! actions, sides, scopes, rule names from the loaded rules), never a
//! path, a header, a key or matched text; a series once created stays for
//! the life of the process, so counters only grow. The core names no field
//! of any API: what is counted is what the access and audit lines say.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histograms' buckets, in seconds: 50 µs to
/// 10 s.
const BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// A latency histogram with fixed buckets.
#[derive(Default)]
struct Histogram {
    /// Per bucket, observations at or under its bound (not cumulative).
    counts: [AtomicU64; BUCKETS.len()],
    /// Observations over the last bound.
    over: AtomicU64,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        match BUCKETS.iter().position(|&bound| seconds <= bound) {
            Some(bucket) => self.counts[bucket].fetch_add(1, Ordering::Relaxed),
            None => self.over.fetch_add(1, Ordering::Relaxed),
        };
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.over.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let bare = labels.trim_end_matches(',');
        let _ = writeln!(out, "{name}_sum{{{bare}}} {sum}");
        let _ = writeln!(
            out,
            "{name}_count{{{bare}}} {}",
            self.count.load(Ordering::Relaxed)
        );
    }
}

/// One request, as the access line ends it.
pub(crate) struct RequestRecord {
    pub route: &'static str,
    pub class: &'static str,
    pub status: u16,
}

/// One audit line's worth: a rule's action on a side and scope, counted.
pub(crate) struct Decision<'a> {
    pub side: &'static str,
    pub rule: &'a str,
    pub action: &'static str,
    pub scope: &'static str,
    pub count: u64,
}

/// A guardrail-check series: phase, rule, action, scope.
type CheckKey = (&'static str, String, &'static str, &'static str);

/// Every metric of one gateway process.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    checks: Mutex<BTreeMap<CheckKey, u64>>,
    /// Bytes of bodies inspected: request, response.
    inspected_bytes: [AtomicU64; 2],
    /// Time to inspect a request body (parse, walk, scan, splice).
    request_inspection: Histogram,
    /// From the request's head to the upstream request being sent: what
    /// the gateway adds to time to first byte on the way up.
    added_before_upstream: Histogram,
    active_streams: AtomicI64,
    generation: AtomicU64,
    rules: AtomicU64,
    reload_failures: AtomicU64,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The rule set now serving: its generation (1 for the one loaded at
    /// start) and its rule count.
    pub fn set_rule_set(&self, generation: u64, rules: usize) {
        self.generation.store(generation, Ordering::Relaxed);
        self.rules.store(rules as u64, Ordering::Relaxed);
    }

    /// A rule set that failed to load and was not swapped in.
    pub fn reload_failed(&self) {
        self.reload_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    pub(crate) fn request_done<'a>(
        &self,
        record: RequestRecord,
        decisions: impl IntoIterator<Item = Decision<'a>>,
    ) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests
                .entry((record.route, record.class, record.status))
                .or_default() += 1;
        }
        if let Ok(mut checks) = self.checks.lock() {
            for d in decisions {
                *checks
                    .entry((d.side, d.rule.to_owned(), d.action, d.scope))
                    .or_default() += d.count;
            }
        }
    }

    pub(crate) fn inspected(&self, side: &'static str, bytes: usize) {
        let index = usize::from(side == "response");
        self.inspected_bytes[index].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn request_inspection(&self, elapsed: Duration) {
        self.request_inspection.observe(elapsed);
    }

    pub(crate) fn added_before_upstream(&self, elapsed: Duration) {
        self.added_before_upstream.observe(elapsed);
    }

    pub(crate) fn stream_started(&self) {
        self.active_streams.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stream_ended(&self) {
        self.active_streams.fetch_sub(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "rulegate_requests_total",
            "counter",
            "Requests answered, by route, route class (inspected, relayed, local, refused) and status.",
        );
        if let Ok(requests) = self.requests.lock() {
            for ((route, class, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "rulegate_requests_total{{route=\"{route}\",class=\"{class}\",status=\"{status}\"}} {count}"
                );
            }
        }
        family(
            &mut out,
            "rulegate_guardrail_checks_total",
            "counter",
            "Rule decisions, by phase (request, response), action (reject, mask, log), rule and scope.",
        );
        if let Ok(checks) = self.checks.lock() {
            for ((phase, rule, action, scope), count) in checks.iter() {
                let _ = writeln!(
                    out,
                    "rulegate_guardrail_checks_total{{phase=\"{phase}\",action=\"{action}\",rule=\"{}\",scope=\"{scope}\"}} {count}",
                    escape_label(rule)
                );
            }
        }
        family(
            &mut out,
            "rulegate_inspected_bytes_total",
            "counter",
            "Bytes of request and reply bodies inspected (streamed replies not included).",
        );
        for (phase, bytes) in ["request", "response"].iter().zip(&self.inspected_bytes) {
            let _ = writeln!(
                out,
                "rulegate_inspected_bytes_total{{phase=\"{phase}\"}} {}",
                bytes.load(Ordering::Relaxed)
            );
        }
        family(
            &mut out,
            "rulegate_inspection_duration_seconds",
            "histogram",
            "Time to inspect a request body: parse, walk, scan and splice the masks.",
        );
        self.request_inspection.render(
            &mut out,
            "rulegate_inspection_duration_seconds",
            "phase=\"request\",",
        );
        family(
            &mut out,
            "rulegate_added_time_to_first_byte_seconds",
            "histogram",
            "Time the gateway spends on a request before sending it upstream.",
        );
        self.added_before_upstream.render(
            &mut out,
            "rulegate_added_time_to_first_byte_seconds",
            "phase=\"request\",",
        );
        let scalars = [
            (
                "rulegate_active_streams",
                "gauge",
                "Streamed replies being relayed now.",
                self.active_streams.load(Ordering::Relaxed).max(0) as u64,
            ),
            (
                "rulegate_ruleset_generation",
                "gauge",
                "Generation of the rule set serving requests (1 for the one loaded at start).",
                self.generation(),
            ),
            (
                "rulegate_ruleset_rules",
                "gauge",
                "Rules in the rule set serving requests.",
                self.rules.load(Ordering::Relaxed),
            ),
            (
                "rulegate_ruleset_reload_failures_total",
                "counter",
                "Rule sets refused at reload (errors); the previous one kept serving.",
                self.reload_failures.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in scalars {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// A label value as the exposition format wants it.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counters_add_up() {
        let metrics = Metrics::new();
        metrics.request_inspection(Duration::from_micros(40));
        metrics.request_inspection(Duration::from_millis(3));
        metrics.request_inspection(Duration::from_secs(30));
        let decisions = [Decision {
            side: "request",
            rule: "a\"b",
            action: "mask",
            scope: "user",
            count: 2,
        }];
        let record = RequestRecord {
            route: "messages",
            class: "inspected",
            status: 200,
        };
        metrics.request_done(record, decisions);
        let text = metrics.render();
        assert!(text.contains(
            "rulegate_inspection_duration_seconds_bucket{phase=\"request\",le=\"0.00005\"} 1\n"
        ));
        assert!(text.contains(
            "rulegate_inspection_duration_seconds_bucket{phase=\"request\",le=\"0.005\"} 2\n"
        ));
        assert!(text.contains(
            "rulegate_inspection_duration_seconds_bucket{phase=\"request\",le=\"+Inf\"} 3\n"
        ));
        assert!(text.contains("rulegate_inspection_duration_seconds_count{phase=\"request\"} 3\n"));
        assert!(text.contains(
            "rulegate_guardrail_checks_total{phase=\"request\",action=\"mask\",rule=\"a\\\"b\",scope=\"user\"} 2\n"
        ));
        assert!(text.contains(
            "rulegate_requests_total{route=\"messages\",class=\"inspected\",status=\"200\"} 1\n"
        ));
    }
}
