#!/usr/bin/env python3
"""Regenerates sample.jsonl: ~300 node-exporter style alerts for the example rule set.

Deterministic (fixed seed): running it again gives the same file.
    python3 rules/examples/events/generate.py > rules/examples/events/sample.jsonl
"""
import json
import random
import sys
from datetime import datetime, timedelta, timezone

rng = random.Random(20261124)
BASE = datetime(2026, 11, 23, 0, 0, 0, tzinfo=timezone.utc)  # Monday 09:00 JST

PROD = ["web-01", "web-02", "web-03", "web-04", "web-05", "web-06", "api-01", "api-02",
        "api-03", "api-04", "cache-01", "cache-02", "mon-01", "mon-02"]
DB = ["db-01", "db-02", "db-03"]
WORKERS = ["worker-01", "worker-02", "worker-03", "worker-04"]
BACKUP = ["backup-01", "backup-02"]
STAGING = ["stg-web-01", "stg-api-01", "stg-db-01"]
CI = ["ci-01", "ci-02"]
LAB = ["lab-01", "lab-02", "lab-v6"]
STRANGERS = ["edge-01", "edge-02", "vpn-01"]  # not in the inventory

events = []


def ts(hours_from=0.0, hours_to=24 * 7):
    return BASE + timedelta(seconds=rng.randint(int(hours_from * 3600), int(hours_to * 3600)))


def daytime_weekday():
    """Tue-Fri 01:00-08:00 UTC (10:00-17:00 JST): outside every maintenance window."""
    day = rng.randint(1, 4)
    return BASE + timedelta(days=day, hours=rng.randint(1, 7), minutes=rng.randint(0, 59))


def add(alertname, host, when, severity="warning", labels=None, values=None, message=None,
        source="prometheus", ts_form="rfc3339"):
    ev = {"id": None}  # numbered in time order below
    if ts_form == "rfc3339":
        ev["timestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif ts_form == "epoch":
        ev["ts"] = int(when.timestamp())
    else:  # epoch milliseconds under the "time" alias
        ev["time"] = int(when.timestamp() * 1000)
    ev["source"] = source
    lab = {"alertname": alertname, "severity": severity}
    if host is not None:
        lab["instance"] = host + ":9100"
        lab["job"] = "node"
    lab.update(labels or {})
    ev["labels"] = lab
    if values:
        ev["values"] = values
    if message:
        ev["message"] = message
    events.append((when, ev))


def usage(lo, hi):
    return round(rng.uniform(lo, hi), 1)


# Disk: 70 events.
for _ in range(70):
    kind = rng.choices(["data", "tmp", "boot", "root", "logs", "scratch", "low", "msg"],
                       [10, 12, 5, 15, 10, 5, 8, 5])[0]
    when = daytime_weekday()
    alert = rng.choice(["NodeFilesystemAlmostOutOfSpace", "NodeFilesystemSpaceFillingUp"])
    if kind == "data":
        host = rng.choice(DB)
        mp = "/var/lib/mysql" if host == "db-03" else "/var/lib/postgresql"
        u = usage(95, 99.5)
    elif kind == "tmp":
        host, mp, u = rng.choice(PROD + WORKERS), rng.choice(["/tmp", "/var/tmp"]), usage(80, 99)
    elif kind == "boot":
        host, mp, u = rng.choice(PROD), "/boot", usage(82, 97)
    elif kind == "root":
        host, mp, u = rng.choice(PROD + STAGING), rng.choice(["/", "/home", "/srv"]), usage(80, 99)
    elif kind == "logs":
        host, mp, u = rng.choice(PROD), rng.choice(["/var/log", "/var/log/nginx"]), usage(85, 94.9)
    elif kind == "scratch":
        host, mp, u = rng.choice(WORKERS), "/mnt/scratch", usage(90, 100)
    elif kind == "low":  # below every threshold: unknown
        host, mp, u = rng.choice(PROD), "/", usage(60, 79)
    else:  # mountpoint only in the message
        host = rng.choice(DB)
        u = usage(95, 99)
        add(alert, host, when, "critical", values={"usage": u},
            message="Filesystem on /var/lib/postgresql is %.1f%% full" % u)
        continue
    sev = "critical" if u >= 95 else "warning"
    add(alert, host, when, sev, labels={"mountpoint": mp, "fstype": "ext4"}, values={"usage": u},
        message="Filesystem on %s is %.1f%% full" % (mp, u),
        ts_form=rng.choice(["rfc3339", "rfc3339", "epoch", "epoch_ms"]))

# Load: 40 events.
for _ in range(40):
    host = rng.choice(PROD + DB + WORKERS + STRANGERS)
    ratio = round(rng.choice([rng.uniform(1.5, 3), rng.uniform(3, 6), rng.uniform(6, 12),
                              rng.uniform(0.8, 1.5)]), 2)
    add("NodeSystemSaturation", host, daytime_weekday(), "warning" if ratio < 6 else "critical",
        values={"load_ratio": ratio, "load5": round(ratio * 8, 2)},
        message="5-minute load is %.2f per core" % ratio)

# Service down: 45 events (systemd messages and blackbox probes).
UNITS = {"web": ["nginx", "haproxy"], "api": ["api", "node_exporter"], "db": ["postgresql", "mysql"],
         "worker": ["worker-1", "worker-2"], "backup": ["nightly-backup", "tmp-cleanup"]}
for _ in range(45):
    group = rng.choice(["web", "api", "db", "worker", "backup", "ci", "staging", "probe"])
    when = daytime_weekday()
    if group == "probe":
        host = rng.choice(PROD + DB + STRANGERS)
        add("ServiceDown", host, when, "critical", labels={"job": "blackbox", "probe": "http"},
            message="HTTP probe failed for %s" % host)
        continue
    if group == "ci":
        host, unit = rng.choice(CI), "gitlab-runner"
    elif group == "staging":
        host, unit = rng.choice(STAGING), rng.choice(["nginx", "api", "postgresql"])
    else:
        host = rng.choice({"web": PROD[:6], "api": PROD[6:10], "db": DB, "worker": WORKERS,
                           "backup": BACKUP}[group])
        unit = rng.choice(UNITS[group])
    add("NodeSystemdServiceFailed", host, when, rng.choice(["warning", "critical"]),
        labels={"name": unit + ".service"},
        message="Unit %s.service %s" % (unit, rng.choice(["entered failed state.", "failed."])))

# Certificates: 30 events.
DOMAINS = ["shop.example.com", "www.example.com", "api.example.com", "pay.example.net",
           "api.staging.example.com", "partner.example.org", "login.example.com"]
for _ in range(30):
    d = rng.choice(DOMAINS)
    days = rng.choice([-1, 0, 2, 5, 7, 12, 20, 29, 45, 60])
    add("CertificateExpiring", None, daytime_weekday(), "critical" if days <= 7 else "warning",
        labels={"job": "blackbox", "probe": "tls", "instance": "https://%s" % d},
        message="TLS certificate for %s expires in %d days" % (d, days))

# OOM kills: 25 events.
PROCS = [("java", PROD[6:10]), ("postgres", DB[:2]), ("mysqld", ["db-03"]),
         ("python3", PROD + WORKERS), ("chrome", CI)]
for _ in range(25):
    proc, hosts = rng.choice(PROCS)
    host = rng.choice(hosts)
    prefix = "Memory cgroup out of memory" if rng.random() < 0.3 else "Out of memory"
    add("NodeOOMKill", host, daytime_weekday(), "warning",
        values={"oom_kills": rng.randint(1, 3)},
        message="%s: Killed process %d (%s) total-vm:%dkB" % (prefix, rng.randint(100, 99999), proc,
                                                           rng.randint(10**5, 10**7)))

# Noise: heartbeats, info alerts, test alerts, Nagios leftovers: 25 events.
for i in range(8):
    add("Watchdog", None, BASE + timedelta(hours=21 * i), "none")
for _ in range(7):
    add(rng.choice(["NodeClockSkewDetected", "NodeNetworkReceiveErrs", "NodeSystemSaturation"]),
        rng.choice(PROD), daytime_weekday(), "info", values={"load_ratio": 0.4})
for _ in range(4):
    add("NodeSystemdServiceFailed", rng.choice(PROD), daytime_weekday(), "warning",
        message="[test] routing check from the on-call handbook")
for _ in range(6):
    add("CHECK_DISK", None, daytime_weekday(), "warning", source="nagios",
        labels={"host": rng.choice(PROD)})

for _ in range(3):  # a broken relabeling rule dropped the instance label: escalated
    add("NodeClockSkewDetected", None, daytime_weekday(), "warning", labels={"job": "node"})

# Maintenance windows: 20 events.
for _ in range(6):  # Sunday 01:00-04:00 JST = Saturday 16:00-19:00 UTC on the backup subnet
    when = BASE + timedelta(days=5, hours=16, minutes=rng.randint(0, 179))
    add("NodeSystemSaturation", rng.choice(BACKUP), when, "warning", values={"load_ratio": 4.2})
for _ in range(6):  # staging patch nights: 22:00-06:00 JST on weekdays
    when = BASE + timedelta(days=rng.randint(0, 3), hours=14, minutes=rng.randint(0, 400))
    add("NodeSystemdServiceFailed", rng.choice(STAGING), when, "warning",
        message="Unit api.service entered failed state.")
for _ in range(5):
    add("NodeRebootRequired", rng.choice(LAB), daytime_weekday(), "warning")
for _ in range(3):  # prod reboots at the weekend need a person
    add("NodeRebootRequired", rng.choice(PROD), BASE + timedelta(days=5, hours=rng.randint(0, 12)))

# Unknown: shapes no table knows (about 15% of the file).
UNKNOWN = [("NodeNetworkReceiveErrs", {"device": "eth0"}), ("NodeClockSkewDetected", {}),
           ("NodeRebootRequired", {}), ("NodeNetworkInterfaceFlapping", {"device": "bond0"}),
           ("NodeRAIDDegraded", {"device": "md0"})]
for _ in range(26):
    name, extra = rng.choice(UNKNOWN)
    add(name, rng.choice(PROD + DB), daytime_weekday(), "warning", labels=extra)

events.sort(key=lambda e: e[0])  # stable: same-second events keep their order
out = sys.stdout
for n, (when, ev) in enumerate(events, 1):
    ev["id"] = "evt-%04d" % n
    out.write(json.dumps(ev, separators=(",", ":")) + "\n")
