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
