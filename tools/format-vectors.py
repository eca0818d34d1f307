#!/usr/bin/env python3
"""Independent implementation of Ledgerflow's stored format 1 (ARCHITECTURE.md): the canonical
payload encoding and the hash chain. Writes fixtures/format-v1/vectors.json, which the Swift tests
check the real implementation against. It is also the recipe for re-verifying an exported log
offline: canonical(n) = header fields + canonical payload; hash(n) = SHA-256(hash(n-1) + canonical(n)).

Usage: python3 tools/format-vectors.py > fixtures/format-v1/vectors.json
"""
import hashlib, json, math, struct, sys

POW10 = [10.0 ** e for e in range(10)]

def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)

def zigzag(n):
    return varint(((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF)

def round_half_away(x):
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)

def decimal(d):
    if not math.isfinite(d) or (d == 0 and math.copysign(1, d) < 0):
        return None
    for e, p in enumerate(POW10):
        scaled = round_half_away(d * p)
        if abs(scaled) < 2 ** 53 and scaled / p == d:
            return int(scaled), e
    return None

def encode(v):
    if v is None: return b"\x00"
    if v is False: return b"\x01"
    if v is True: return b"\x02"
    if isinstance(v, int): return b"\x03" + zigzag(v)
    if isinstance(v, float):
        dm = decimal(v)
        if dm is not None: return b"\x08" + zigzag(dm[0]) + bytes([dm[1]])
        bits = 0x7FF8000000000000 if math.isnan(v) else struct.unpack("<Q", struct.pack("<d", v))[0]
        return b"\x04" + struct.pack("<Q", bits)
    if isinstance(v, str):
        u = v.encode("utf-8")
        return b"\x05" + varint(len(u)) + u
    if isinstance(v, list):
        return b"\x06" + varint(len(v)) + b"".join(encode(x) for x in v)
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-8"))
        out = b"\x07" + varint(len(items))
        for k, x in items:
            u = k.encode("utf-8")
            out += varint(len(u)) + u + encode(x)
        return out
    raise TypeError(type(v))

def lp(s):
    u = s.encode("utf-8")
    return struct.pack(">I", len(u)) + u

def canonical(e, payload):
    return (b"\x01" + struct.pack(">QqQIQQ", e["seq"], e["recordedAtMicros"], e["streamVersion"], e["schemaVersion"],
                                  e["causation"] or 0, e["correlation"])
            + lp(e["stream"]) + lp(e["type"]) + lp(e["actor"]) + struct.pack(">I", len(payload)) + payload)

VALUES = [
    'null', 'true', 'false', '0', '1', '-1', '300', '-300', '9223372036854775807', '-9223372036854775808',
    '0.5', '0.8731', '3.0', '-2.25', '1e-300', '0.1', '123456.789', '3.141592653589793',
    '""', '"a"', '"na\\u00efve \\u2603 \\ud83d\\ude80"', '[]', '[1,"two",[3.5,null]]', '{}',
    '{"b":1,"a":{"z":null,"y":[true]}}',
    '{"entity":"C113-732886","model":"churn","modelVersion":3,"outputs":{"churn_probability":0.8731},"run":"r4","stage":"score"}',
    '{"\\u00e9":1,"e":2,"E":3,"ee":4}',
]

EVENTS = [
    dict(seq=1, recordedAtMicros=1795314667123456, stream="run/r1", streamVersion=1, type="RunRequested", schemaVersion=1,
         causation=None, correlation=1, actor="scheduler", payload='{"job":"churn-scoring","parameters":{"date":"2026-11-21"}}'),
    dict(seq=2, recordedAtMicros=1795314667123456, stream="run/r1", streamVersion=2, type="StageStarted", schemaVersion=1,
         causation=1, correlation=1, actor="worker-2", payload='{"attempt":1,"stage":"extract"}'),
    dict(seq=3, recordedAtMicros=1795314667200001, stream="predictions/r1", streamVersion=1, type="PredictionRecorded",
         schemaVersion=2, causation=2, correlation=1, actor="worker-2",
         payload='{"entity":"cust-42","outputs":{"churn_probability":0.93}}'),
]

def main():
    values = [{"json": j, "canonical_hex": encode(json.loads(j)).hex()} for j in VALUES]
    prev = bytes(32)
    events = []
    for e in EVENTS:
        payload = encode(json.loads(e["payload"]))
        h = hashlib.sha256(prev + canonical(e, payload)).digest()
        events.append(dict(e, payload_canonical_hex=payload.hex(), hash_hex=h.hex()))
        prev = h
    json.dump({"format": 1, "generated_by": "tools/format-vectors.py (an implementation independent of the Swift code)",
               "values": values, "chain": events}, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")

if __name__ == "__main__":
    main()
