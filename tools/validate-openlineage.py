#!/usr/bin/env python3
"""Validate OpenLineage RunEvents (one JSON object per line) against the official schemas.

    python3 tools/validate-openlineage.py EXPORT.jsonl [--schemas fixtures/openlineage]

Every line is checked against OpenLineage.json 2-0-2 (#/$defs/RunEvent), and every
`columnLineage` dataset facet against ColumnLineageDatasetFacet.json, offline: the schemas are
read from the fixtures directory and resolved by their $id (no network). Prints one line per
problem (line number, JSON path, message) and a summary; exits 1 if any line is invalid.
Needs the `jsonschema` package (pip install jsonschema).
"""
import argparse
import json
import os
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
except ImportError:
    sys.exit("validate-openlineage: needs the jsonschema package: pip install jsonschema")

here = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("export")
parser.add_argument("--schemas", default=os.path.join(here, "..", "fixtures", "openlineage"))
args = parser.parse_args()


def load(name):
    with open(os.path.join(args.schemas, name)) as f:
        return json.load(f)


core = load("OpenLineage.json")
column = load("ColumnLineageDatasetFacet.json")
registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in (core, column)])
Validator = jsonschema.Draft202012Validator
run_event = Validator({"$ref": core["$id"] + "#/$defs/RunEvent"}, registry=registry, format_checker=Validator.FORMAT_CHECKER)
column_facet = Validator({"$ref": column["$id"] + "#/$defs/ColumnLineageDatasetFacet"}, registry=registry,
                         format_checker=Validator.FORMAT_CHECKER)

problems = 0
events = 0
facets = 0
types = {}
with open(args.export) as f:
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as e:
            print(f"line {n}: not JSON: {e}")
            problems += 1
            continue
        events += 1
        types[event.get("eventType")] = types.get(event.get("eventType"), 0) + 1
        for error in run_event.iter_errors(event):
            print(f"line {n}: {error.json_path}: {error.message}")
            problems += 1
        for side in ("inputs", "outputs"):
            for i, dataset in enumerate(event.get(side) or []):
                facet = (dataset.get("facets") or {}).get("columnLineage")
                if facet is None:
                    continue
                facets += 1
                for error in column_facet.iter_errors(facet):
                    print(f"line {n}: $.{side}[{i}].facets.columnLineage{error.json_path[1:]}: {error.message}")
                    problems += 1

summary = ", ".join(f"{k} {v}" for k, v in sorted(types.items(), key=lambda kv: str(kv[0])))
print(f"{events} events ({summary}), {facets} columnLineage facets: {'valid' if problems == 0 else f'{problems} problems'}")
sys.exit(1 if problems or events == 0 else 0)
