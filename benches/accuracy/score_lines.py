#!/usr/bin/env python3
"""Line-level comparison of the rulegate packs and detect-secrets.

Reads, from the directory the `accuracy` binary wrote (default
target/accuracy): labels.jsonl, negatives.jsonl, ours-findings.jsonl and
detect-secrets.json (`detect-secrets scan --all-files -n` run inside
corpus/). Prints markdown tables.

detect-secrets reports a line per secret, so both tools are scored by
line: a labeled value (lines `line`..`end_line`) is detected when the tool
reports anything on one of its lines; a reported line (for each of our
findings the first of its lines inside a label, else its first line; the
`line_number` of each detect-secrets result)
that lies in no secret label is a false positive. detect-secrets looks for
no PII, so the overall figures cover secrets only: our PII rules and its
`Public IP (ipv4)` plugin are left out of them.
"""

import collections
import json
import sys
from pathlib import Path

# detect-secrets plugin (secret_type) -> the corpus types it is meant to
# find. Generic plugins map to the generic type.
PLUGIN_TYPES = {
    "AWS Access Key": ["aws-access-key-id", "aws-secret-access-key"],
    "Azure Storage Account access key": ["azure-storage-key", "azure-connection-string"],
    "Basic Auth Credentials": ["database-url"],
    "Discord Bot Token": ["discord-bot-token"],
    "GitHub Token": ["github-token"],
    "GitLab Token": ["gitlab-token"],
    "JSON Web Token": ["jwt"],
    "NPM tokens": ["npm-token"],
    "OpenAI Token": ["openai-api-key"],
    "Private Key": ["private-key", "pgp-private-key", "gcp-service-account"],
    "PyPI Token": ["pypi-token"],
    "SendGrid API Key": ["sendgrid-api-key"],
    "Slack Token": ["slack-token", "slack-webhook-url"],
    "Stripe Access Key": ["stripe-key"],
    "Telegram Bot Token": ["telegram-bot-token"],
    "Twilio API Key": ["twilio-api-key"],
    "Secret Keyword": ["generic-secret-assignment"],
    "Base64 High Entropy String": ["generic-secret-assignment"],
    "Hex High Entropy String": ["generic-secret-assignment"],
    "Public IP (ipv4)": ["ipv4-address"],
}
PII_PLUGINS = {"Public IP (ipv4)"}


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def pct(num, den):
    return "—" if den == 0 else f"{100.0 * num / den:.1f}%"


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "target/accuracy")
    labels = read_jsonl(out / "labels.jsonl")
    negatives = read_jsonl(out / "negatives.jsonl")
    ours_raw = read_jsonl(out / "ours-findings.jsonl")
    ds = json.load(open(out / "detect-secrets.json", encoding="utf-8"))

    # Reports: (file, line, type-or-plugin, is_secret_report).
    theirs = []
    for filename, results in ds["results"].items():
        name = filename[2:] if filename.startswith("./") else filename
        for r in results:
            theirs.append((name, r["line_number"], r["type"], r["type"] not in PII_PLUGINS))
    scanned = {name for name, *_ in theirs}

    by_line = collections.defaultdict(list)  # (file, line) -> labels on it
    for label in labels:
        for line in range(label["line"], label["end_line"] + 1):
            by_line[(label["file"], line)].append(label)
    neg_line = {}
    for n in negatives:
        for line in range(n["line"], n["end_line"] + 1):
            neg_line.setdefault((n["file"], line), n["kind"])

    # One line per finding of ours, as detect-secrets reports one: the
    # first of its lines that holds a label (a key on one line and its
    # value on the next, as in a YAML block scalar or an XML element,
    # reports the value's line), else its first line.
    ours = []
    for f in ours_raw:
        lines = range(f["line"], f.get("end_line", f["line"]) + 1)
        line = next((l for l in lines if (f["file"], l) in by_line), f["line"])
        ours.append((f["file"], line, f["rule"], f["secret"]))

    def own_types(tool, kind):
        if tool == "ours":
            return {kind}
        return set(PLUGIN_TYPES.get(kind, []))

    def label_matches(tool, kind, label):
        types = own_types(tool, kind)
        return label["type"] in types or any(a in types for a in label["also"])

    tools = {"ours": ours, "detect-secrets": theirs}
    # Per tool: reports grouped by (file, line).
    reported = {
        tool: collections.defaultdict(set) for tool in tools
    }
    for tool, reports in tools.items():
        for file, line, kind, secret in reports:
            reported[tool][(file, line)].add((kind, secret))

    def detected(tool, label, own_only, secret_only=True):
        for line in range(label["line"], label["end_line"] + 1):
            for kind, secret in reported[tool].get((label["file"], line), ()):
                if secret_only and not secret:
                    continue
                if not own_only or label_matches(tool, kind, label):
                    return True
        return False

    secret_labels = [l for l in labels if l["secret"]]
    print("## Line level: rulegate packs vs detect-secrets, secrets only\n")
    print(
        f"- corpus: {len(labels)} labeled values ({len(secret_labels)} secrets), "
        f"{len(negatives)} hard negatives; detect-secrets "
        f"{ds.get('version', '?')} reported on {len(scanned)} files"
    )
    print(
        "- a labeled value is detected when the tool reports any finding on one "
        "of its lines; a reported line in no secret label is a false positive. "
        "Our PII rules and detect-secrets' `Public IP (ipv4)` are left out.\n"
    )
    print(
        "| tool | secret values | detected | recall | reported lines | on a secret | "
        "precision | FP on hard negatives | FP on PII values | FP elsewhere |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    fp_causes = {}
    for tool in tools:
        found = sum(detected(tool, l, own_only=False) for l in secret_labels)
        lines = [
            key
            for key, kinds in reported[tool].items()
            if any(secret for _, secret in kinds)
        ]
        on_secret = [k for k in lines if any(l["secret"] for l in by_line.get(k, ()))]
        fps = [k for k in lines if not any(l["secret"] for l in by_line.get(k, ()))]
        on_neg = [k for k in fps if k in neg_line]
        on_pii = [k for k in fps if k not in neg_line and k in by_line]
        causes = collections.Counter(neg_line[k] for k in on_neg)
        fp_causes[tool] = causes
        print(
            f"| {tool} | {len(secret_labels)} | {found} | {pct(found, len(secret_labels))} "
            f"| {len(lines)} | {len(on_secret)} | {pct(len(on_secret), len(lines))} "
            f"| {len(on_neg)} | {len(on_pii)} | {len(fps) - len(on_neg) - len(on_pii)} |"
        )

    print("\n### Per type (line level)\n")
    print(
        "\"own\" counts only the rule of that type (ours) or the plugins mapped to "
        "it (detect-secrets); \"any\" counts any secret finding on the value's lines.\n"
    )
    print(
        "| type | values | ours: recall own | ours: recall any | ours: precision own "
        "| detect-secrets plugin | ds: recall own | ds: recall any |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    # Secrets first, then PII, each by name.
    types = sorted({l["type"]: not l["secret"] for l in labels}.items(), key=lambda kv: (kv[1], kv[0]))
    types = [name for name, _ in types]
    for kind in types:
        of_kind = [l for l in labels if l["type"] == kind]
        secret = of_kind[0]["secret"]
        plugins = sorted(p for p, ts in PLUGIN_TYPES.items() if kind in ts)
        o_own = sum(detected("ours", l, True, secret) for l in of_kind)
        o_any = sum(detected("ours", l, False, secret) for l in of_kind)
        # Our precision for this type's rule, by line.
        rule_lines = [k for k, kinds in reported["ours"].items() if any(r == kind for r, _ in kinds)]
        good = [
            k
            for k in rule_lines
            if any(label_matches("ours", kind, l) for l in by_line.get(k, ()))
        ]
        if plugins:
            d_own = pct(sum(detected("detect-secrets", l, True, secret) for l in of_kind), len(of_kind))
        else:
            d_own = "—"
        d_any = (
            pct(sum(detected("detect-secrets", l, False, secret) for l in of_kind), len(of_kind))
            if secret or plugins
            else "— (no PII)"
        )
        name = kind if secret else f"{kind} (PII)"
        print(
            f"| {name} | {len(of_kind)} | {pct(o_own, len(of_kind))} | {pct(o_any, len(of_kind))} "
            f"| {pct(len(good), len(rule_lines))} | {', '.join(plugins) or '—'} | {d_own} | {d_any} |"
        )

    print("\n### detect-secrets plugins (line level)\n")
    print("| plugin | reported lines | on a value of its types | on any secret value | precision (own types) |")
    print("|---|---:|---:|---:|---:|")
    per_plugin = collections.defaultdict(set)
    for file, line, kind, _ in theirs:
        per_plugin[kind].add((file, line))
    for plugin, lines in sorted(per_plugin.items(), key=lambda kv: -len(kv[1])):
        own = [k for k in lines if any(label_matches("detect-secrets", plugin, l) for l in by_line.get(k, ()))]
        anys = [k for k in lines if any(l["secret"] for l in by_line.get(k, ()))]
        print(f"| {plugin} | {len(lines)} | {len(own)} | {len(anys)} | {pct(len(own), len(lines))} |")

    print("\n### False-positive lines on hard negatives, by kind\n")
    print("| hard negative | ours | detect-secrets |")
    print("|---|---:|---:|")
    kinds = sorted(set(fp_causes["ours"]) | set(fp_causes["detect-secrets"]),
                   key=lambda k: -(fp_causes["ours"][k] + fp_causes["detect-secrets"][k]))
    for kind in kinds:
        print(f"| {kind} | {fp_causes['ours'][kind]} | {fp_causes['detect-secrets'][kind]} |")


if __name__ == "__main__":
    main()
