#!/usr/bin/env python3
"""Reference fire times for cron expressions in IANA time zones, for CronCalendarTests.

An implementation of the rules in ARCHITECTURE.md ("Schedules: cron in a time zone") that shares
no code with the Swift one, on Python's zoneinfo (the same tz database):
  - the fields are local wall time in the zone; `L` in day-of-month is the month's last day;
  - a local time inside a spring-forward gap fires at the first instant after the gap;
  - a local time that occurs twice fires once, at its first occurrence;
  - instants strictly increase (a gap time and the time just after it fire once).
Regenerate: python3 tools/cron-reference.py > fixtures/cron/reference.json
"""
import calendar
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


def field(text, lo, hi):
    out = set()
    for item in text.split(","):
        base, step = (item.split("/") + [None])[:2]
        step = int(step) if step else 1
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            a, b = map(int, base.split("-"))
        else:
            a = int(base)
            b = hi if step != 1 or "/" in item else a
        out.update(range(a, b + 1, step))
    return out


def parse(expr):
    mi, h, dom, mo, dow = expr.split()
    last = "L" in dom.split(",")
    dom_items = [x for x in dom.split(",") if x != "L"]
    doms = field(",".join(dom_items), 1, 31) if dom_items else set()
    dows = {d % 7 for d in field(dow, 0, 7)}
    return dict(minutes=sorted(field(mi, 0, 59)), hours=sorted(field(h, 0, 23)), doms=doms, last=last,
                months=field(mo, 1, 12), dows=dows, dom_r=dom != "*", dow_r=dow != "*")


def day_matches(c, d):
    if d.month not in c["months"]:
        return False
    dom = d.day in c["doms"] or (c["last"] and d.day == calendar.monthrange(d.year, d.month)[1])
    dow = (d.weekday() + 1) % 7 in c["dows"]
    if c["dom_r"] and c["dow_r"]:
        return dom or dow
    return (dom or not c["dom_r"]) and dow


def resolve(zone, local):
    valid = []
    for fold in (0, 1):
        aware = local.replace(tzinfo=zone, fold=fold)
        instant = aware.astimezone(UTC)
        back = instant.astimezone(zone).replace(tzinfo=None)
        if back == local:
            valid.append(instant)
    if valid:
        return min(valid)
    # In a gap: bisect for the first instant whose local time is past `local`.
    lo = local.replace(tzinfo=zone, fold=1).astimezone(UTC)   # the offset after the gap: before it
    hi = local.replace(tzinfo=zone, fold=0).astimezone(UTC)   # the offset before the gap: after it
    lo, hi = min(lo, hi), max(lo, hi)
    while (hi - lo).total_seconds() > 1:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).replace(tzinfo=None) > local:
            hi = mid
        else:
            lo = mid
    return hi


def fire_times(expr, zone_name, after, count):
    c, zone = parse(expr), ZoneInfo(zone_name)
    out, floor = [], after
    d = (after.astimezone(zone) - timedelta(days=1)).date()
    while len(out) < count:
        if day_matches(c, d):
            for h in c["hours"]:
                for m in c["minutes"]:
                    t = resolve(zone, datetime(d.year, d.month, d.day, h, m))
                    if t > floor:
                        out.append(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
                        floor = t
                        if len(out) == count:
                            return out
        d += timedelta(days=1)
    return out


zones = ["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago"]
exprs = ["30 2 * * *", "0 * * * *", "*/20 1-3 * * *", "0 0 L * *", "15 2 * 3,4,9,10 0", "0 12 1,L * 5"]
afters = ["2026-01-01T00:00:00Z", "2026-03-07T12:00:00Z", "2026-03-27T12:00:00Z", "2026-10-24T12:00:00Z", "2026-09-05T00:00:00Z"]
cases = []
for z in zones:
    for e in exprs:
        for a in afters:
            after = datetime.strptime(a, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            cases.append({"zone": z, "cron": e, "after": a, "fires": fire_times(e, z, after, 40)})
print(json.dumps({"generator": "tools/cron-reference.py", "cases": cases}, indent=0))
