//! Carriers: the shapes agent traffic really has, each writing the items
//! it is given (positives and hard negatives) in its own syntax and
//! encoding.

use super::values::{self, chance, person, range, Item, ALNUM, B62, HEX};
use super::{Doc, Enc};
use crate::accuracy::DocKind;
use crate::Rng;

pub struct Carrier {
    pub name: &'static str,
    pub ext: &'static str,
    pub kind: DocKind,
    pub write: fn(&mut Doc, &mut Rng, &[Item]),
}

pub const CARRIERS: &[Carrier] = &[
    Carrier {
        name: "dotenv",
        ext: "env",
        kind: DocKind::Env,
        write: dotenv,
    },
    Carrier {
        name: "yaml-config",
        ext: "yaml",
        kind: DocKind::Yaml,
        write: yaml_config,
    },
    Carrier {
        name: "k8s-secret",
        ext: "yaml",
        kind: DocKind::Yaml,
        write: k8s_secret,
    },
    Carrier {
        name: "docker-config",
        ext: "json",
        kind: DocKind::Json,
        write: docker_config,
    },
    Carrier {
        name: "http-request",
        ext: "http",
        kind: DocKind::Trace,
        write: http_request,
    },
    Carrier {
        name: "http-response",
        ext: "http",
        kind: DocKind::Trace,
        write: http_response,
    },
    Carrier {
        name: "curl",
        ext: "sh",
        kind: DocKind::ShellLog,
        write: curl,
    },
    Carrier {
        name: "tool-result",
        ext: "json",
        kind: DocKind::Json,
        write: tool_result,
    },
    Carrier {
        name: "wrapped-paste",
        ext: "md",
        kind: DocKind::Chat,
        write: wrapped_paste,
    },
    Carrier {
        name: "notebook",
        ext: "ipynb",
        kind: DocKind::Json,
        write: notebook,
    },
    Carrier {
        name: "stack-trace",
        ext: "txt",
        kind: DocKind::Trace,
        write: stack_trace,
    },
    Carrier {
        name: "terraform",
        ext: "tf",
        kind: DocKind::Yaml,
        write: terraform,
    },
    Carrier {
        name: "shell-history",
        ext: "txt",
        kind: DocKind::ShellLog,
        write: shell_history,
    },
    Carrier {
        name: "markdown-table",
        ext: "md",
        kind: DocKind::Chat,
        write: markdown_table,
    },
    Carrier {
        name: "chat",
        ext: "md",
        kind: DocKind::Chat,
        write: chat,
    },
    Carrier {
        name: "git-config",
        ext: "ini",
        kind: DocKind::Env,
        write: git_config,
    },
    Carrier {
        name: "app-log",
        ext: "log",
        kind: DocKind::CiLog,
        write: app_log,
    },
    Carrier {
        name: "csv-export",
        ext: "csv",
        kind: DocKind::CiLog,
        write: csv_export,
    },
    Carrier {
        name: "sql-dump",
        ext: "sql",
        kind: DocKind::ShellLog,
        write: sql_dump,
    },
    Carrier {
        name: "email",
        ext: "eml",
        kind: DocKind::Chat,
        write: email,
    },
    Carrier {
        name: "slack-message",
        ext: "txt",
        kind: DocKind::Chat,
        write: slack_message,
    },
    Carrier {
        name: "error-message",
        ext: "txt",
        kind: DocKind::Trace,
        write: error_message,
    },
    Carrier {
        name: "package-rc",
        ext: "ini",
        kind: DocKind::Env,
        write: package_rc,
    },
    Carrier {
        name: "python-source",
        ext: "py",
        kind: DocKind::Python,
        write: python_source,
    },
];

// ---------------------------------------------------------------- helpers

const PASSWORD_NAMES: &[&str] = &[
    "DB_PASSWORD",
    "PASSWORD",
    "ADMIN_PASSWORD",
    "CLIENT_SECRET",
    "SECRET_KEY",
    "SMTP_PASSWORD",
    "API_SECRET",
    "REDIS_PASSWORD",
    "JWT_SECRET",
];

const NEUTRAL_NAMES: &[&str] = &["TOKEN", "API_KEY", "CREDENTIAL", "AUTH", "KEY"];

/// The SCREAMING_SNAKE name a config would give `item`.
fn base_name(rng: &mut Rng, item: &Item) -> &'static str {
    if item.kind == "generic-secret-assignment" {
        rng.pick(PASSWORD_NAMES)
    } else if item.positive && !values::is_pii(item.kind) && chance(rng, 12) {
        rng.pick(NEUTRAL_NAMES)
    } else {
        item.name
    }
}

#[derive(Clone, Copy)]
enum Style {
    Screaming,
    Snake,
    Camel,
    Kebab,
}

fn styled(name: &str, style: Style) -> String {
    match style {
        Style::Screaming => name.to_string(),
        Style::Snake => name.to_ascii_lowercase(),
        Style::Kebab => name.to_ascii_lowercase().replace('_', "-"),
        Style::Camel => {
            let mut out = String::new();
            for (i, word) in name.split('_').enumerate() {
                let lower = word.to_ascii_lowercase();
                if i == 0 {
                    out.push_str(&lower);
                } else {
                    let mut cs = lower.chars();
                    if let Some(c) = cs.next() {
                        out.push(c.to_ascii_uppercase());
                        out.push_str(cs.as_str());
                    }
                }
            }
            out
        }
    }
}

fn name(rng: &mut Rng, item: &Item, style: Style) -> String {
    styled(base_name(rng, item), style)
}

fn user(rng: &mut Rng) -> String {
    let (f, l) = person(rng);
    match rng.below(3) {
        0 => f,
        1 => format!("{f}.{l}"),
        _ => format!("{}{l}", &f[..1]),
    }
}

/// A plain ASCII sentence with no value of any labeled type.
fn prose(rng: &mut Rng) -> &'static str {
    rng.pick(&[
        "Deploy finished, rolling restart of the workers is next.",
        "I refactored the retry loop so it backs off exponentially.",
        "The cache hit rate dropped after the last release.",
        "Can you check why the nightly job keeps timing out?",
        "Tests pass locally but the pipeline fails on the lint step.",
        "We moved the service behind the new gateway last week.",
        "The migration adds an index on the orders table.",
        "Rotating credentials is on the checklist for Friday.",
        "Latency is back to normal after scaling the pool.",
        "Here is the output from the staging box.",
    ])
}

fn tool_use_id(rng: &mut Rng) -> Item {
    Item::negative(
        "tool-use-id",
        format!("toolu_01{}", rng.string_from(B62, 22)),
        "ID",
    )
}

fn host(rng: &mut Rng) -> &'static str {
    rng.pick(&[
        "api.acme-corp.io",
        "billing.internal.acme-corp.io",
        "api.stripe.com",
        "api.openai.com",
        "api.github.com",
        "hooks.zapier-like.net",
        "graph.contoso.app",
    ])
}

/// A URL-shaped or long-structured value that reads badly inside a URL.
fn is_url_like(item: &Item) -> bool {
    matches!(
        item.kind,
        "database-url" | "slack-webhook-url" | "azure-connection-string" | "gcp-service-account"
    )
}

// ---------------------------------------------------------------- carriers

fn dotenv(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s(rng.pick(&[
        "# .env — local overrides, do not commit\n",
        "# Environment for the orders service\n",
        "",
    ]));
    d.s("NODE_ENV=production\nLOG_LEVEL=info\n");
    for it in items {
        let n = name(rng, it, Style::Screaming);
        if it.multiline() {
            if chance(rng, 50) {
                d.s(&format!("{n}=\""));
                d.put(it, &[Enc::Json]);
                d.s("\"\n");
            } else {
                d.s(&format!("{n}=\""));
                d.put(it, &[]);
                d.s("\"\n");
            }
            continue;
        }
        if it.kind == "gcp-service-account" {
            d.s(&format!("{n}='"));
            d.put(it, &[]);
            d.s("'\n");
            continue;
        }
        match rng.below(5) {
            0 => {
                d.s(&format!("{n}=\""));
                d.put(it, &[]);
                d.s("\"\n");
            }
            1 => {
                d.s(&format!("export {n}='"));
                d.put(it, &[]);
                d.s("'\n");
            }
            2 => {
                d.s(&format!("{n} = "));
                d.put(it, &[]);
                d.s("  # rotated last sprint\n");
            }
            _ => {
                d.s(&format!("{n}="));
                d.put(it, &[]);
                d.s("\n");
            }
        }
        if chance(rng, 30) {
            d.s("\n# feature flags\nENABLE_BETA=false\n");
        }
    }
}

fn yaml_config(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("service:\n  name: orders-api\n  replicas: 3\n  port: 8080\n");
    d.s(rng.pick(&["credentials:\n", "secrets:\n", "config:\n  auth:\n"]));
    let indent = if d.text.ends_with("auth:\n") { 4 } else { 2 };
    let pad = " ".repeat(indent);
    for it in items {
        let n = name(rng, it, Style::Snake);
        if it.multiline() {
            d.s(&format!(
                "{pad}{n}: {}\n{pad}  ",
                rng.pick(&["|", "|-", "|+"])
            ));
            d.put(it, &[Enc::Indent(indent + 2)]);
            d.s("\n");
            continue;
        }
        if it.kind == "gcp-service-account" {
            d.s(&format!("{pad}{n}: '"));
            d.put(it, &[]);
            d.s("'\n");
            continue;
        }
        match rng.below(3) {
            0 => {
                d.s(&format!("{pad}{n}: \""));
                d.put(it, &[Enc::Json]);
                d.s("\"\n");
            }
            1 => {
                d.s(&format!("{pad}{n}: '"));
                d.put(it, &[]);
                d.s("'\n");
            }
            _ => {
                d.s(&format!("{pad}{n}: "));
                d.put(it, &[]);
                d.s("\n");
            }
        }
    }
    d.s("logging:\n  level: warn\n");
}

fn k8s_secret(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let string_data = chance(rng, 30);
    d.s(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\n  namespace: {}\n  labels:\n    app.kubernetes.io/name: orders\ntype: Opaque\n{}:\n",
        rng.pick(&["app-secrets", "orders-credentials", "api-keys"]),
        rng.pick(&["prod", "default", "payments"]),
        if string_data { "stringData" } else { "data" }
    ));
    for it in items {
        let n = name(rng, it, Style::Snake);
        if string_data {
            if it.multiline() {
                d.s(&format!("  {n}: |\n    "));
                d.put(it, &[Enc::Indent(4)]);
                d.s("\n");
            } else {
                d.s(&format!("  {n}: \""));
                d.put(it, &[Enc::Json]);
                d.s("\"\n");
            }
        } else {
            d.s(&format!("  {n}: "));
            d.put(it, &[Enc::Base64]);
            d.s("\n");
        }
    }
}

fn docker_config(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("{\n  \"auths\": {\n");
    let registries = [
        "ghcr.io",
        "https://index.docker.io/v1/",
        "registry.gitlab.com",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "quay.io",
        "myregistry.azurecr.io",
    ];
    let mut rest = Vec::new();
    let mut first = true;
    for it in items {
        if it.multiline() || is_url_like(it) || !it.positive || values::is_pii(it.kind) {
            rest.push(it);
            continue;
        }
        if !first {
            d.s(",\n");
        }
        first = false;
        let reg = registries[rng.below(registries.len())];
        if chance(rng, 70) {
            let u = if it.kind.starts_with("github") {
                "x-access-token".to_string()
            } else {
                user(rng)
            };
            d.s(&format!("    \"{reg}\": {{\n      \"auth\": \""));
            d.put(&it.with_user(&u), &[Enc::Base64]);
            d.s("\"\n    }");
        } else {
            d.s(&format!("    \"{reg}\": {{\n      \"identitytoken\": \""));
            d.put(it, &[Enc::Json]);
            d.s("\"\n    }");
        }
    }
    d.s("\n  },\n  \"credsStore\": \"desktop\"");
    if !rest.is_empty() {
        d.s(",\n  \"HttpHeaders\": {\n");
        for (i, it) in rest.iter().enumerate() {
            let n = name(rng, it, Style::Kebab);
            d.s(&format!("    \"X-{n}\": \""));
            d.put(it, &[Enc::JsonSlash]);
            d.s(if i + 1 < rest.len() { "\",\n" } else { "\"\n" });
        }
        d.s("  }");
    }
    d.s("\n}\n");
}

/// `name=value&…` with percent-encoded values.
fn form(d: &mut Doc, rng: &mut Rng, items: &[&Item]) {
    d.s("grant_type=client_credentials");
    for it in items {
        let n = name(rng, it, Style::Snake);
        d.s(&format!("&{n}="));
        d.put(it, &[Enc::Percent]);
    }
    d.s(&format!(
        "&scope=read%3Aorders+write%3Aorders&state={}\n",
        rng.string_from(HEX, 8)
    ));
}

fn header(d: &mut Doc, rng: &mut Rng, it: &Item) {
    // A hard negative never sits in a credential slot (a UUID after
    // `Bearer` is a credential): it gets a header named for what it is.
    // PII is not a password: no Basic auth for it either.
    let v = if !it.positive {
        4
    } else if values::is_pii(it.kind) {
        3 + rng.below(2)
    } else {
        rng.below(5)
    };
    match v {
        0 | 1 if !values::is_pii(it.kind) => {
            d.s("Authorization: Bearer ");
            d.put(it, &[]);
        }
        2 => {
            let u = user(rng);
            d.s("Authorization: Basic ");
            d.put(&it.with_user(&u), &[Enc::Base64]);
        }
        3 => {
            d.s(&format!(
                "Cookie: theme=dark; {}=",
                name(rng, it, Style::Snake)
            ));
            d.put(it, &[Enc::Percent]);
        }
        _ => {
            d.s(&format!("X-{}: ", name(rng, it, Style::Kebab)));
            d.put(it, &[]);
        }
    }
    d.s(rng.pick(&["\r\n", "\n"]));
}

fn http_request(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let h = host(rng);
    let (in_query, rest): (Vec<&Item>, Vec<&Item>) = items
        .iter()
        .partition(|it| !it.multiline() && chance(rng, 40));
    let method = if rest.iter().any(|it| it.multiline()) || chance(rng, 50) {
        "POST"
    } else {
        "GET"
    };
    d.s(&format!(
        "{method} /v1/{}",
        rng.pick(&["orders", "search", "oauth/token", "users/me"])
    ));
    for (i, it) in in_query.iter().enumerate() {
        let n = name(rng, it, Style::Snake);
        d.s(&format!("{}{n}=", if i == 0 { "?" } else { "&" }));
        d.put(it, &[Enc::Percent]);
    }
    d.s(&format!(
        " HTTP/1.1\nHost: {h}\nUser-Agent: python-requests/2.31.0\nAccept: */*\n"
    ));
    if method == "GET" {
        for it in &rest {
            header(d, rng, it);
        }
        d.s("\n");
        return;
    }
    if chance(rng, 50) {
        d.s("Content-Type: application/x-www-form-urlencoded\n\n");
        form(d, rng, &rest);
    } else {
        d.s("Content-Type: application/json\n\n{");
        for (i, it) in rest.iter().enumerate() {
            let n = name(rng, it, Style::Camel);
            d.s(&format!("{}\"{n}\": \"", if i == 0 { "" } else { ", " }));
            d.put(it, &[Enc::Json]);
            d.s("\"");
        }
        d.s("}\n");
    }
}

fn http_response(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let variant = rng.below(3);
    if variant == 0 && items.iter().all(|it| !it.multiline()) {
        d.s(&format!(
            "HTTP/1.1 302 Found\nLocation: https://app.acme-corp.io/callback#state={}",
            rng.string_from(HEX, 12)
        ));
        for it in items {
            d.s(&format!("&{}=", name(rng, it, Style::Snake)));
            d.put(it, &[Enc::Percent]);
        }
        d.s("\nContent-Length: 0\n\n");
        return;
    }
    d.s("HTTP/2 200\ncontent-type: application/json; charset=utf-8\n");
    d.s(&format!(
        "x-request-id: req_{}\n",
        rng.string_from(ALNUM, 24)
    ));
    let enc = match rng.below(5) {
        0 | 1 => Enc::JsonSlash,
        2 => Enc::JsonGo,
        _ => Enc::Json,
    };
    if variant == 1 {
        for it in items.iter().filter(|it| !it.multiline()).take(1) {
            d.s(&format!("set-cookie: {}=", name(rng, it, Style::Snake)));
            d.put(it, &[Enc::Percent]);
            d.s("; Path=/; Secure; HttpOnly; SameSite=Lax\n");
        }
    }
    d.s("\n{\n  \"object\": \"list\",\n  \"data\": [\n    {\n");
    for it in items {
        let n = name(rng, it, Style::Snake);
        d.s(&format!("      \"{n}\": \""));
        d.put(it, &[enc]);
        d.s("\",\n");
    }
    d.s("      \"livemode\": true\n    }\n  ],\n  \"has_more\": false\n}\n");
}

fn curl(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    for it in items {
        let h = host(rng);
        d.s("$ ");
        let v = if it.multiline() || is_url_like(it) {
            4
        } else if !it.positive || values::is_pii(it.kind) {
            2 + rng.below(3)
        } else {
            rng.below(5)
        };
        match v {
            0 if !values::is_pii(it.kind) => {
                d.s("curl -sS -H \"Authorization: Bearer ");
                d.put(it, &[]);
                d.s(&format!("\" https://{h}/v1/me\n"));
            }
            1 => {
                let u = user(rng);
                d.s(&format!("curl -u {u}:"));
                d.put(it, &[]);
                d.s(&format!(" https://{h}/api/v2/status\n"));
            }
            2 => {
                d.s(&format!(
                    "curl \"https://{h}/v1/lookup?{}=",
                    name(rng, it, Style::Snake)
                ));
                d.put(it, &[Enc::Percent]);
                d.s("&format=json\"\n");
            }
            3 => {
                d.s(&format!(
                    "curl -X POST https://{h}/token -d '{}=",
                    name(rng, it, Style::Snake)
                ));
                d.put(it, &[Enc::Percent]);
                d.s("'\n");
            }
            _ => {
                d.s(&format!(
                    "curl -X POST https://{h}/v1/config \\\n    -H 'Content-Type: application/json' \\\n    -d '{{\"{}\": \"",
                    name(rng, it, Style::Snake)
                ));
                d.put(it, &[Enc::Json]);
                d.s("\"}'\n");
            }
        }
        d.s(rng.pick(&[
            "{\"ok\":true}\n",
            "HTTP/1.1 401 Unauthorized\n",
            "curl: (6) Could not resolve host\n",
            "\n",
        ]));
    }
}

fn tool_result(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let outer = if chance(rng, 35) {
        Enc::JsonSlash
    } else {
        Enc::Json
    };
    let depth = if chance(rng, 30) { 3 } else { 2 };
    d.s("{\"type\": \"tool_result\", \"tool_use_id\": \"");
    d.put(&tool_use_id(rng), &[]);
    d.s("\", \"content\": \"");
    if chance(rng, 25) {
        // Shell output (a printed env file) as one escaped string.
        d.f("$ cat .env\n", &[outer]);
        for it in items {
            let n = name(rng, it, Style::Screaming);
            d.f(&format!("{n}=\""), &[outer]);
            d.put(it, &[Enc::Json, outer]);
            d.f("\"\n", &[outer]);
        }
        d.s("\", \"is_error\": false}\n");
        return;
    }
    let mut level1: Vec<Enc> = vec![outer];
    if depth == 3 {
        d.f("{\"exit_code\": 0, \"stdout\": \"", &[outer]);
        level1 = vec![Enc::Json, outer];
    }
    d.f("{\"status\": \"ok\", \"config\": {", &level1);
    for (i, it) in items.iter().enumerate() {
        let n = name(rng, it, Style::Snake);
        d.f(
            &format!("{}\"{n}\": \"", if i == 0 { "" } else { ", " }),
            &level1,
        );
        let mut encs = vec![Enc::Json];
        encs.extend_from_slice(&level1);
        d.put(it, &encs);
        d.f("\"", &level1);
    }
    d.f(
        &format!("}}, \"url\": \"https://{}/v1/config\"}}", host(rng)),
        &level1,
    );
    if depth == 3 {
        d.f("\"}", &[outer]);
    }
    d.s("\"}\n");
}

fn wrapped_paste(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s(rng.pick(&[
        "My terminal wrapped the lines, sorry:\n\n",
        "Pasting from the PDF export, the lines are broken:\n\n",
        "```\n",
    ]));
    let width = *[32usize, 40, 64, 76].get(rng.below(4)).expect("in range");
    let indent = *[0usize, 0, 2, 4].get(rng.below(4)).expect("in range");
    for it in items {
        let n = name(rng, it, Style::Screaming);
        d.s(&format!("{n}:\n{}", " ".repeat(indent)));
        if it.multiline() || it.text.chars().count() <= width || it.mark != (0, it.text.len()) {
            d.put(it, &[Enc::Indent(indent)]);
        } else {
            d.put(it, &[Enc::Wrap(width, indent)]);
        }
        d.s("\n\n");
    }
    if d.text.starts_with("```") {
        d.s("```\n");
    }
    d.s(prose(rng));
    d.s("\n");
}

fn notebook(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("{\n \"cells\": [\n  {\n   \"cell_type\": \"markdown\",\n   \"metadata\": {},\n   \"source\": [\"## Setup\\n\", \"Load credentials and connect.\"]\n  },\n");
    d.s(&format!(
        "  {{\n   \"cell_type\": \"code\",\n   \"execution_count\": {},\n   \"metadata\": {{}},\n   \"outputs\": [\n",
        range(rng, 1, 40)
    ));
    let printed: Vec<&Item> = items.iter().filter(|_| chance(rng, 35)).collect();
    if !printed.is_empty() {
        d.s("    {\n     \"name\": \"stdout\",\n     \"output_type\": \"stream\",\n     \"text\": [\n");
        for (i, it) in printed.iter().enumerate() {
            d.s(&format!("      \"{}: ", name(rng, it, Style::Snake)));
            d.put(it, &[Enc::Json]);
            d.s(if i + 1 < printed.len() {
                "\\n\",\n"
            } else {
                "\\n\"\n"
            });
        }
        d.s("     ]\n    }\n");
    }
    d.s("   ],\n   \"source\": [\n    \"import os\\n\",\n");
    for it in items {
        let n = name(rng, it, Style::Screaming);
        if chance(rng, 50) {
            d.s(&format!("    \"os.environ[\\\"{n}\\\"] = \\\""));
        } else {
            d.s(&format!("    \"{} = \\\"", n.to_ascii_lowercase()));
        }
        d.put(it, &[Enc::Json, Enc::Json]);
        d.s("\\\"\\n\",\n");
    }
    d.s("    \"client = connect()\"\n   ]\n  }\n ],\n \"metadata\": {\n  \"kernelspec\": {\"display_name\": \"Python 3\", \"language\": \"python\", \"name\": \"python3\"}\n },\n \"nbformat\": 4,\n \"nbformat_minor\": 5\n}\n");
}

fn stack_trace(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    if chance(rng, 50) {
        d.s("Traceback (most recent call last):\n  File \"/app/worker/tasks.py\", line 214, in sync_orders\n    resp = session.get(url, params=params, timeout=10)\n  File \"/usr/lib/python3.12/site-packages/requests/sessions.py\", line 602, in get\n    return self.request(\"GET\", url, **kwargs)\n");
        for it in items {
            if it.kind == "database-url" {
                d.s("sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection failed\n(Background on this error at: https://sqlalche.me/e/20/e3q8)\n  engine url: ");
                d.put(it, &[]);
                d.s("\n");
            } else if it.multiline() {
                d.s(&format!("  locals: {}='", name(rng, it, Style::Snake)));
                d.put(it, &[Enc::Json]);
                d.s("'\n");
            } else if chance(rng, 50) {
                d.s(&format!(
                    "requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: https://{}/v1/items?{}=",
                    host(rng),
                    name(rng, it, Style::Snake)
                ));
                d.put(it, &[Enc::Percent]);
                d.s("&limit=50\n");
            } else {
                d.s(&format!("    {} = '", name(rng, it, Style::Snake)));
                d.put(it, &[]);
                d.s("'\n");
            }
        }
    } else {
        d.s("Exception in thread \"main\" java.lang.IllegalStateException: upstream call failed\n\tat com.acme.orders.Client.call(Client.java:88)\n\tat com.acme.orders.Sync.run(Sync.java:41)\n");
        for it in items {
            d.s(&format!(
                "Caused by: com.acme.http.AuthException: rejected {}=",
                name(rng, it, Style::Camel)
            ));
            if it.multiline() {
                d.put(it, &[Enc::Json]);
            } else {
                d.put(it, &[]);
            }
            d.s("\n\tat com.acme.http.Auth.check(Auth.java:19)\n");
        }
        d.s("\t... 12 more\n");
    }
}

fn terraform(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("terraform {\n  required_version = \">= 1.5\"\n}\n\n");
    for it in items {
        let n = name(rng, it, Style::Snake);
        match rng.below(3) {
            0 => {
                d.s(&format!(
                    "variable \"{n}\" {{\n  type      = string\n  sensitive = true\n  default   = "
                ));
            }
            1 => d.s(&format!(
                "resource \"{}\" \"main\" {{\n  name = \"orders\"\n  {n} = ",
                rng.pick(&[
                    "aws_db_instance",
                    "github_actions_secret",
                    "kubernetes_secret",
                    "datadog_monitor"
                ])
            )),
            _ => d.s(&format!(
                "provider \"{}\" {{\n  {n} = ",
                rng.pick(&["aws", "github", "azurerm", "stripe"])
            )),
        }
        if it.multiline() {
            d.s("<<EOT\n");
            d.put(it, &[]);
            d.s("\nEOT\n}\n\n");
        } else {
            d.s("\"");
            d.put(it, &[Enc::Json]);
            d.s("\"\n}\n\n");
        }
    }
}

fn shell_history(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let mut n = range(rng, 100, 900);
    let mut line = |d: &mut Doc| {
        n += 1;
        d.s(&format!("{n:5}  "));
    };
    line(d);
    d.s("cd ~/src/orders && git pull\n");
    for it in items {
        line(d);
        let nm = name(rng, it, Style::Screaming);
        if it.multiline() {
            d.s("cat > key.pem <<'EOF'\n");
            d.put(it, &[]);
            d.s("\nEOF\n");
            continue;
        }
        let kind = it.kind;
        let v = if it.positive && !values::is_pii(it.kind) {
            rng.below(5)
        } else {
            4
        };
        match v {
            0 if kind == "database-url" => {
                d.s("psql \"");
                d.put(it, &[]);
                d.s("\" -c 'select 1'\n");
            }
            1 if !values::is_pii(kind) && !is_url_like(it) => {
                let u = user(rng);
                d.s(&format!("git clone https://{u}:"));
                d.put(it, &[Enc::Percent]);
                d.s(&format!(
                    "@{}/acme/orders.git\n",
                    rng.pick(&["github.com", "gitlab.com", "bitbucket.org"])
                ));
            }
            2 if kind == "generic-secret-assignment" => {
                d.s("mysql -h db.internal -u root -p");
                d.put(it, &[]);
                d.s(" orders\n");
            }
            3 if !values::is_pii(kind) => {
                d.s("echo '");
                d.put(it, &[]);
                d.s("' | docker login ghcr.io -u deploy --password-stdin\n");
            }
            _ => {
                d.s(&format!("export {nm}=\""));
                d.put(it, &[]);
                d.s("\"\n");
            }
        }
        if chance(rng, 40) {
            line(d);
            d.s(rng.pick(&[
                "ls -la\n",
                "make test\n",
                "kubectl get pods -n prod\n",
                "history | tail\n",
            ]));
        }
    }
}

fn markdown_table(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s(rng.pick(&[
        "Here is the inventory you asked for:\n\n",
        "## Accounts to migrate\n\n",
        "| Summary of the export |\n\n",
    ]));
    d.s("| field | value | owner | notes |\n|---|---|---|---|\n");
    let mut later = Vec::new();
    for it in items {
        if it.multiline() {
            later.push(it);
            continue;
        }
        let (f, _) = person(rng);
        d.s(&format!("| {} | ", name(rng, it, Style::Snake)));
        if chance(rng, 50) {
            d.s("`");
            d.put(it, &[]);
            d.s("`");
        } else {
            d.put(it, &[]);
        }
        d.s(&format!(
            " | {f} | {} |\n",
            rng.pick(&["prod", "verify", "legacy", "—", "rotated"])
        ));
    }
    for it in later {
        d.s(&format!("\n**{}**:\n\n```\n", name(rng, it, Style::Snake)));
        d.put(it, &[]);
        d.s("\n```\n");
    }
    d.s("\n");
    d.s(prose(rng));
    d.s("\n");
}

fn chat_line(rng: &mut Rng, lang: usize, it: &Item) -> (String, &'static str) {
    let desc = if it.positive { it.desc } else { "value" };
    let pw = it.kind == "generic-secret-assignment";
    let before = match (lang, pw) {
        (0, true) => "the password is ".to_string(),
        (0, false) => format!("here's the {desc}: "),
        (1, true) => "das Passwort ist ".to_string(),
        (1, false) => format!("hier ist der Wert ({desc}): "),
        (2, true) => "le mot de passe est ".to_string(),
        (2, false) => format!("voici la valeur ({desc}) : "),
        (3, true) => "la contraseña es ".to_string(),
        (3, false) => format!("aquí está el dato ({desc}): "),
        (4, true) => "パスワードは ".to_string(),
        (4, false) => format!("{desc}は "),
        (_, true) => "a senha é ".to_string(),
        (_, false) => format!("segue o valor ({desc}): "),
    };
    let after = match lang {
        0 => rng.pick(&[" — can you check it?", ", thanks", ""]),
        1 => rng.pick(&[" — kannst du das prüfen?", ", danke!", ""]),
        2 => rng.pick(&[", merci !", " — tu peux vérifier ?", ""]),
        3 => rng.pick(&[", gracias", " — ¿puedes revisarlo?", ""]),
        4 => rng.pick(&[
            " です。確認してください。",
            " です",
            " です。よろしくお願いします。",
        ]),
        _ => rng.pick(&[", obrigado", ""]),
    };
    (before, after)
}

fn chat(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let lang = rng.below(6);
    let opener = [
        "**user**: I'm setting up the staging box.\n\n",
        "**user**: Ich richte gerade die Staging-Umgebung ein.\n\n",
        "**user**: Je configure l'environnement de recette.\n\n",
        "**user**: Estoy configurando el entorno de pruebas.\n\n",
        "**user**: ステージング環境を設定しています。\n\n",
        "**user**: Estou configurando o ambiente de homologação.\n\n",
    ][lang];
    d.s(opener);
    for it in items {
        let (before, after) = chat_line(rng, lang, it);
        d.s("**user**: ");
        d.s(&before);
        if it.multiline() {
            d.s("\n\n```\n");
            d.put(it, &[]);
            d.s("\n```\n\n");
        } else {
            if chance(rng, 30) {
                d.s("`");
                d.put(it, &[]);
                d.s("`");
            } else {
                d.put(it, &[]);
            }
            d.s(after);
            d.s("\n\n");
        }
    }
    d.s("**assistant**: ");
    d.s(rng.pick(&[
        "Thanks. I would not paste credentials here; please rotate them after we are done.\n",
        "Danke. Bitte rotiere die Zugangsdaten danach.\n",
        "Merci. Pense à renouveler ces identifiants ensuite.\n",
        "Gracias. Recuerda rotar esas credenciales después.\n",
        "ありがとうございます。作業後に認証情報をローテーションしてください。\n",
    ]));
}

fn git_config(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n");
    let mut remote = 0;
    for it in items {
        if it.multiline() {
            d.s("# signing key (from ~/.gnupg export)\n");
            d.put(it, &[]);
            d.s("\n");
            continue;
        }
        remote += 1;
        let r = if remote == 1 {
            "origin".to_string()
        } else {
            format!("mirror{remote}")
        };
        d.s(&format!("[remote \"{r}\"]\n\turl = "));
        if is_url_like(it)
            || it.kind == "email"
            || it.kind == "ipv4-address"
            || it.kind == "ipv6-address"
        {
            if it.kind == "email" {
                d.s("https://");
                d.put(it, &[Enc::Percent]);
                d.s("@git.acme-corp.io/platform/orders.git");
            } else if it.kind == "ipv4-address" {
                d.s("ssh://git@");
                d.put(it, &[]);
                d.s(":2222/platform/orders.git");
            } else if it.kind == "ipv6-address" {
                d.s("ssh://git@[");
                d.put(it, &[]);
                d.s("]/platform/orders.git");
            } else {
                d.put(it, &[]);
            }
        } else if !it.positive || values::is_pii(it.kind) {
            d.s(&format!(
                "https://git.acme-corp.io/platform/orders.git?{}=",
                name(rng, it, Style::Snake)
            ));
            d.put(it, &[Enc::Percent]);
        } else {
            let u = user(rng);
            d.s(&format!("https://{u}:"));
            d.put(it, &[Enc::Percent]);
            d.s(&format!(
                "@{}/acme/orders.git",
                rng.pick(&["github.com", "gitlab.com", "dev.azure.com"])
            ));
        }
        d.s(&format!("\n\tfetch = +refs/heads/*:refs/remotes/{r}/*\n"));
    }
    d.s("[branch \"main\"]\n\tremote = origin\n\tmerge = refs/heads/main\n");
}

fn app_log(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let json = chance(rng, 40);
    // Go services escape `<`, `>` and `&` in their JSON logs.
    let go = if chance(rng, 50) {
        Enc::JsonGo
    } else {
        Enc::Json
    };
    for it in items {
        let lvl = rng.pick(&["INFO", "WARN", "DEBUG", "ERROR"]);
        let n = name(rng, it, Style::Snake);
        if json || it.multiline() {
            d.s("{\"ts\":\"");
            d.neg(rng, "timestamp");
            d.s(&format!(
                "\",\"level\":\"{}\",\"msg\":\"request\",\"{n}\":\"",
                lvl.to_ascii_lowercase()
            ));
            d.put(it, &[go]);
            d.s("\",\"duration_ms\":12}\n");
        } else {
            d.neg(rng, "timestamp");
            d.s(&format!(
                " {lvl:5} [worker-{}] handled request {n}=",
                range(rng, 1, 8)
            ));
            d.put(it, &[]);
            d.s(&format!(
                " status={}\n",
                rng.pick(&["200", "401", "403", "500"])
            ));
        }
        if chance(rng, 40) {
            d.neg(rng, "timestamp");
            d.s(" INFO  [main] health check ok\n");
        }
    }
}

fn csv_export(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("id,name,field,value,created\n");
    for (i, it) in items.iter().enumerate() {
        let (f, l) = person(rng);
        let f = format!("{}{}", f[..1].to_ascii_uppercase(), &f[1..]);
        let l = format!("{}{}", l[..1].to_ascii_uppercase(), &l[1..]);
        d.s(&format!(
            "{},\"{f} {l}\",{},",
            i + 1,
            name(rng, it, Style::Snake)
        ));
        if it.multiline() || it.text.contains(',') || it.text.contains('"') || chance(rng, 40) {
            d.s("\"");
            d.put(it, &[Enc::Csv]);
            d.s("\"");
        } else {
            d.put(it, &[]);
        }
        d.s(&format!(
            ",20{}-0{}-1{}\n",
            range(rng, 19, 25),
            range(rng, 1, 9),
            range(rng, 0, 9)
        ));
    }
}

fn sql_dump(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("-- PostgreSQL database dump\n-- Dumped from database version 15.4\n\nSET statement_timeout = 0;\n\n");
    for (i, it) in items.iter().enumerate() {
        if it.kind == "generic-secret-assignment" && chance(rng, 60) {
            d.s(&format!(
                "{} '",
                rng.pick(&[
                    "ALTER ROLE app_rw WITH LOGIN PASSWORD",
                    "CREATE USER reporting WITH PASSWORD",
                    "ALTER USER postgres PASSWORD"
                ])
            ));
            d.put(it, &[Enc::Sql]);
            d.s("';\n");
            continue;
        }
        let (f, l) = person(rng);
        d.s(&format!(
            "INSERT INTO public.{} (id, owner, {}, note) VALUES ({}, '{f} {l}', '",
            rng.pick(&["customers", "integrations", "api_credentials"]),
            name(rng, it, Style::Snake),
            i + 1
        ));
        d.put(it, &[Enc::Sql]);
        d.s("', 'it''s the current one');\n");
    }
    d.s("\n-- PostgreSQL database dump complete\n");
}

fn email(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let from = values::positive(rng, "email");
    let to = values::positive(rng, "email");
    let (f, l) = person(rng);
    d.s(&format!("From: {f} {l} <"));
    d.put(&from, &[]);
    d.s(">\nTo: <");
    d.put(&to, &[]);
    d.s(">\nSubject: Re: access for the integration\nDate: Tue, 4 Jun 2024 09:12:44 +0200\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nHi,\n\n");
    let (sig, body): (Vec<&Item>, Vec<&Item>) = items
        .iter()
        .partition(|it| matches!(it.kind, "phone-number" | "email") && chance(rng, 70));
    for it in body {
        d.s(&format!(
            "The {} for the integration is ",
            if it.positive { it.desc } else { "value" }
        ));
        if it.multiline() {
            d.s("below:\n\n");
            d.put(it, &[]);
            d.s("\n\n");
        } else {
            d.put(it, &[]);
            d.s(".\n");
        }
    }
    d.s("\nLet me know if anything is missing.\n\nBest regards,\n-- \n");
    d.s(&format!("{f} {l}\nPlatform Engineering, ACME Corp\n"));
    for it in sig {
        d.s(if it.kind == "email" {
            "Mail: "
        } else {
            "Tel: "
        });
        d.put(it, &[]);
        d.s("\n");
    }
}

fn slack_message(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    let mut hour = range(rng, 8, 18);
    for it in items {
        let (f, _) = person(rng);
        hour += rng.below(2);
        d.s(&format!("[{hour:02}:{:02}] {f}: ", rng.below(60)));
        if it.multiline() {
            d.s("```");
            d.put(it, &[]);
            d.s("```\n");
            continue;
        }
        match (it.kind, rng.below(3)) {
            ("email", _) => {
                d.s("ping <mailto:");
                d.put(it, &[]);
                d.s("|");
                d.put(it, &[]);
                d.s("> about it\n");
            }
            ("slack-webhook-url" | "database-url", _) => {
                d.s("use <");
                d.put(it, &[]);
                d.s("> for now\n");
            }
            (_, 0) => {
                d.s(&format!(
                    "@channel new {} `",
                    if it.positive { it.desc } else { "value" }
                ));
                d.put(it, &[]);
                d.s("` :key:\n");
            }
            (_, 1) => {
                d.s("> ");
                d.put(it, &[]);
                d.s("\nthat's the one from the vault\n");
            }
            _ => {
                d.s("try ");
                d.put(it, &[]);
                d.s(" :pray:\n");
            }
        }
    }
}

fn error_message(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    for it in items {
        if it.multiline() {
            d.s("Error: failed to parse private key: asn1: structure error\n  input: \"");
            d.put(it, &[Enc::Json]);
            d.s("\"\n");
            continue;
        }
        // A password is only a password next to its name; a hard negative
        // is never echoed as a rejected credential.
        let v = if it.kind == "generic-secret-assignment" {
            4
        } else if !it.positive || values::is_pii(it.kind) {
            3 + rng.below(2)
        } else {
            rng.below(5)
        };
        match v {
            0 => {
                d.s("openai.AuthenticationError: Error code: 401 - {'error': {'message': 'Incorrect API key provided: ");
                d.put(it, &[]);
                d.s(". You can find your API key at https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error'}}\n");
            }
            1 => {
                d.s("Error: invalid credentials \"");
                d.put(it, &[]);
                d.s("\" (expired or revoked)\n");
            }
            2 if !values::is_pii(it.kind) && !is_url_like(it) => {
                d.s(&format!(
                    "fatal: Authentication failed for 'https://{}:",
                    user(rng)
                ));
                d.put(it, &[Enc::Percent]);
                d.s("@github.com/acme/orders.git/'\n");
            }
            3 => {
                d.s("ValueError: invalid literal for int() with base 10: '");
                d.put(it, &[]);
                d.s("'\n");
            }
            _ => {
                d.s(&format!(
                    "panic: config: {}: unexpected value ",
                    name(rng, it, Style::Snake)
                ));
                d.put(it, &[]);
                d.s(
                    "\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/cmd/server/main.go:42 +0x1d\n",
                );
            }
        }
    }
}

fn package_rc(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s(rng.pick(&["; ~/.npmrc and ~/.pypirc\n", "# credentials files\n"]));
    for it in items {
        if it.multiline() {
            d.s("[signing]\nkey = \"\"\"\n");
            d.put(it, &[]);
            d.s("\n\"\"\"\n");
            continue;
        }
        let v = if it.positive { rng.below(3) } else { 2 };
        match (it.kind, v) {
            ("npm-token", _) | (_, 0) if !is_url_like(it) => {
                d.s(&format!(
                    "//{}/:_authToken=",
                    rng.pick(&[
                        "registry.npmjs.org",
                        "npm.pkg.github.com",
                        "gitlab.com/api/v4/packages/npm"
                    ])
                ));
                d.put(it, &[]);
                d.s("\n");
            }
            ("pypi-token", _) | (_, 1) => {
                d.s("[pypi]\nusername = __token__\npassword = ");
                d.put(it, &[]);
                d.s("\n");
            }
            _ => {
                d.s(&format!(
                    "[{}]\n{} = ",
                    rng.pick(&["default", "profile prod", "server"]),
                    name(rng, it, Style::Snake)
                ));
                d.put(it, &[]);
                d.s("\n");
            }
        }
    }
}

fn python_source(d: &mut Doc, rng: &mut Rng, items: &[Item]) {
    d.s("import os\nimport requests\n\n");
    for it in items {
        let n = name(rng, it, Style::Screaming);
        if it.multiline() {
            d.s(&format!("{n} = \"\"\"\\\n"));
            d.put(it, &[]);
            d.s("\n\"\"\"\n\n");
            continue;
        }
        match rng.below(3) {
            0 => {
                d.s(&format!("{n} = os.environ.get(\"{n}\", \""));
                d.put(it, &[Enc::Json]);
                d.s("\")\n");
            }
            1 => {
                d.s(&format!("client = Client({}='", n.to_ascii_lowercase()));
                d.put(it, &[]);
                d.s("')\n");
            }
            _ => {
                d.s(&format!("{n} = \""));
                d.put(it, &[Enc::Json]);
                d.s("\"\n");
            }
        }
    }
    d.s("\n\ndef main():\n    resp = requests.get(URL, timeout=5)\n    resp.raise_for_status()\n");
}
