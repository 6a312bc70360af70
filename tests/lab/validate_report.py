#!/usr/bin/env python3
"""Validate a tidbpe JSON report (stdin) against a JSON Schema file (argv[1]).

Exit 0 when valid; otherwise print every violation (path: message) on stdout
and exit 1. Used by the end-to-end tests on real output of the binary.
"""
import json
import sys

from jsonschema import Draft202012Validator


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    report = json.load(sys.stdin)
    errors = sorted(Draft202012Validator(schema).iter_errors(report), key=lambda e: list(e.path))
    for e in errors:
        print("/".join(str(p) for p in e.path) + ": " + e.message)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
