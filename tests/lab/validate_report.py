#!/usr/bin/env python3
"""Validate tidbpe JSON reports against a JSON Schema file (argv[1]).

One report a line on stdin (compact JSON), one JSON line back for each:
{"errors": ["path: message", ...]}, empty when the report is valid. Exits at
EOF. One process serves a whole test binary: starting Python and importing
jsonschema costs ~0.25 s of CPU, a validation a few milliseconds. Used by the
end-to-end tests on real output of the binary.
"""
import json
import sys

from jsonschema import Draft202012Validator


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            report = json.loads(line)
        except ValueError as e:
            errors = [f"not JSON: {e}"]
        else:
            found = sorted(validator.iter_errors(report), key=lambda e: [str(p) for p in e.path])
            errors = ["/".join(str(p) for p in e.path) + ": " + e.message for e in found]
        sys.stdout.write(json.dumps({"errors": errors}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
