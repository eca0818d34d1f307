#!/usr/bin/env python3
"""Compares the PredictionRecorded events of two runs (make demo): `ledgerflow events --stream
predictions/<run> --json` of each on stdin files. Prints how many entities both scored and the
largest difference of each numeric output."""
import json
import sys


def load(path):
    out = {}
    for line in open(path):
        e = json.loads(line)["payload"]
        out[e["entity"]] = e
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
common = sorted(set(a) & set(b))
worst, differ = {}, 0
for entity in common:
    for k, v in a[entity]["outputs"].items():
        w = b[entity]["outputs"].get(k)
        if isinstance(v, (int, float)) and isinstance(w, (int, float)) and not isinstance(v, bool):
            worst[k] = max(worst.get(k, 0.0), abs(v - w))
        elif v != w:
            differ += 1
print("%d predictions in each run (%s v%s and %s v%s), %d entities in both; largest differences: %s; other outputs that differ: %d"
      % (len(a), a[common[0]]["model"], a[common[0]]["model_version"], b[common[0]]["model"], b[common[0]]["model_version"], len(common),
         ", ".join("%s %.1e" % kv for kv in sorted(worst.items())), differ))
