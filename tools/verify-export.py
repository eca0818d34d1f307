#!/usr/bin/env python3
"""Re-verify a `ledgerflow audit export` (JSON Lines) offline, with no Ledgerflow code: for every
line, SHA-256(previousHash + canonical(event)) must equal its hash, where canonical(event) is the
record layout of ARCHITECTURE.md ("The hash chain") with the payload's canonical encoding, as
implemented independently in tools/format-vectors.py. Consecutive seqs must chain (a line's
previousHash is the hash of the line before). With --anchor SEQ:HASH (from `ledgerflow audit
head`, kept elsewhere), the export's event at SEQ must carry that hash.

Usage: python3 tools/verify-export.py EXPORT.jsonl [--anchor SEQ:HASH]
Exit 0 when everything verifies, 1 on the first mismatch (named by seq), 2 on bad usage.
"""
import hashlib, importlib.util, json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("format_vectors", os.path.join(here, "format-vectors.py"))
fv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fv)

def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    path, anchor = argv[0], None
    if len(argv) == 3 and argv[1] == "--anchor":
        seq, _, h = argv[2].partition(":")
        anchor = (int(seq), h)
    elif len(argv) != 1:
        print("usage: verify-export.py EXPORT.jsonl [--anchor SEQ:HASH]", file=sys.stderr)
        return 2
    previous = None
    count = 0
    anchored = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            e = json.loads(line)
            canonical = fv.canonical(e, fv.encode(e["payload"]))
            digest = hashlib.sha256(bytes.fromhex(e["previousHash"]) + canonical).hexdigest()
            if digest != e["hash"]:
                print(f"seq {e['seq']} (line {n}): hash does not match its contents (computed {digest})", file=sys.stderr)
                return 1
            if previous and previous[0] + 1 == e["seq"] and previous[1] != e["previousHash"]:
                print(f"seq {e['seq']} (line {n}): previousHash is not the hash of seq {previous[0]}", file=sys.stderr)
                return 1
            if anchor and anchor[0] == e["seq"]:
                if anchor[1] != e["hash"]:
                    print(f"seq {e['seq']}: hash differs from the anchor {anchor[1]}", file=sys.stderr)
                    return 1
                anchored = True
            previous = (e["seq"], e["hash"])
            count += 1
    if anchor and not anchored:
        print(f"the anchor's seq {anchor[0]} is not in the export", file=sys.stderr)
        return 1
    print(f"verified {count} events" + (f"; seq {anchor[0]} matches the anchor" if anchor else ""))
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
