#!/usr/bin/env python3
"""One per-type table of both corpora, for the README.

Usage: both_tables.py OWN.md INDEPENDENT.md, where each file is the
`accuracy` binary's report (stdout) on one corpus. Prints a markdown
table: type, then labels / precision / recall on each corpus."""

import sys


def rows(path):
    table = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 9 or cells[0] in ("type", "---") or cells[0].startswith("-"):
            continue
        name = cells[0].replace("**", "")
        if "(rule with no generator)" in name:
            # No type of its own in the corpus: every finding is counted
            # wrong; show how many, and on how many other types' labels.
            name = name.replace(" (rule with no generator)", " (no type of its own)")
            table[name] = ("–", f"{cells[3]} wrong findings", f"{cells[4]} on other labels")
            continue
        table[name] = (cells[1], cells[6], cells[7])
    return table


own, ind = rows(sys.argv[1]), rows(sys.argv[2])
names = [n for n in own if not n.startswith("all")]
names += [n for n in ind if n not in own and not n.startswith("all")]
names += [n for n in own if n.startswith("all") and "types with a rule" not in n]
print("| type | own: labels | precision | recall | independent: labels | precision | recall |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name in names:
    a = own.get(name, ("–", "–", "–"))
    b = ind.get(name, ("–", "–", "–"))
    label = f"**{name}**" if name.startswith("all") else name
    print(f"| {label} | {a[0]} | {a[1]} | {a[2]} | {b[0]} | {b[1]} | {b[2]} |")
