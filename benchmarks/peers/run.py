#!/usr/bin/env python3
"""The peer harness (issue 21 item 4): edgepipe against Bento, confluent-kafka Python and
kafka-python on the same JSON Lines input and the same Kafka broker, interleaved; plus a MongoDB
leg (edgepipe's mongodb sink against pymongo insert_many). Started by benchmarks/peers/run.sh,
which builds/installs what it needs first; see benchmarks/peers/README.md.

Per run: a fresh topic (3 partitions, edgepipe's default, created before the clock starts) or a
fresh MongoDB collection; the system's process is started under /usr/bin/time and timed by this
harness from spawn to exit (interpreter/runtime start-up, connecting, reading, reshaping,
producing and the final flush all included: the same definition for every system);
  records/s  = records that landed (counted afterwards with kcat / count_documents) / that time
  peak RSS   = /usr/bin/time's maximum resident set size of the process
  latency    = see README.md (differs per system: each client's own delivery report)
Rounds rotate the order of the systems so no one always runs first or after the same one.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("EDGEPIPE_CACHE", os.path.expanduser("~/.cache/edgepipe"))
BINARY = os.environ.get("EDGEPIPE_BINARY", os.path.join(ROOT, "build", "edgepipe"))
BENTO = os.environ.get("PEERS_BENTO", os.path.join(CACHE, "peers", "bento"))
BROKERS = os.environ.get("PEERS_BROKERS", "127.0.0.1:9092")
MONGO = os.environ.get("PEERS_MONGO_URI", "mongodb://127.0.0.1:27017")
PY = sys.executable
TAG = time.strftime("%H%M%S") + "-" + str(os.getpid())

# payloads per workload: coingecko bodies carry 250 coins each; iss bodies one position each
WORKLOADS = {"coingecko": int(os.environ.get("PEERS_CG_PAYLOADS", "2000")),
             "iss": int(os.environ.get("PEERS_ISS_PAYLOADS", "1000000"))}
# The MongoDB leg: coingecko's 250 ids repeat in every body (insert mode, _id = key, would land
# 250 documents), so it uses iss bodies (no key: every record is a document), fewer of them
# (FerretDB's SQLite backend is slow).
MONGO_WORKLOAD = ("iss-mongodb", "iss", int(os.environ.get("PEERS_MONGO_PAYLOADS", "50000")))
KAFKA_SYSTEMS = ["edgepipe", "edgepipe-spool-none", "bento", "confluent-kafka", "kafka-python"]
MONGO_SYSTEMS = ["edgepipe-mongodb", "pymongo"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def create_topic(topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": BROKERS})
    for f in a.create_topics([NewTopic(topic, 3, 1)]).values():
        f.result(30)
    time.sleep(0.5)  # let the leaders settle before a client asks for metadata


def delete_topic(topic):
    from confluent_kafka.admin import AdminClient
    try:
        ac = AdminClient({"bootstrap.servers": BROKERS})  # kept alive until the futures finish
        for f in ac.delete_topics([topic]).values():
            f.result(30)
    except Exception as e:  # noqa: BLE001 - clean-up only
        log(f"  (could not delete {topic}: {e})")


def kcat_count(topic):
    p = subprocess.run(["kcat", "-b", BROKERS, "-C", "-e", "-q", "-o", "beginning", "-t", topic,
                        "-f", "x\\n"], capture_output=True, timeout=600)
    return p.stdout.count(b"\n")


def mongo_count(db, coll, drop=False):
    import pymongo
    c = pymongo.MongoClient(MONGO)
    n = c[db][coll].count_documents({})
    if drop:
        c.drop_database(db)
    return n


def timed(cmd, cwd, env, out_prefix):
    rss = out_prefix + ".rss"
    full = ["/usr/bin/time", "-f", "%M", "-o", rss] + cmd
    with open(out_prefix + ".stderr", "wb") as err:
        t0 = time.monotonic()
        p = subprocess.run(full, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, timeout=3600)
        wall = time.monotonic() - t0
    rss_kb = None
    try:
        rss_kb = int(open(rss).read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        pass
    return p.returncode, wall, rss_kb, p.stdout.decode(errors="replace")


def edgepipe_latency(summary):
    """edgepipe's summary `latency_us` {p50, p99, max}: its sinks' batch latency (see README)."""
    return {k: v / 1e6 for k, v in summary.get("latency_us", {}).items()}


def run_one(system, workload, data, rnd, work):
    api = MONGO_WORKLOAD[1] if workload == MONGO_WORKLOAD[0] else workload
    n_expected = None
    prefix = os.path.join(work, f"{system}-{workload}-r{rnd}")
    rundir = prefix + ".d"
    os.makedirs(rundir, exist_ok=True)
    env = dict(os.environ)
    lat_file = prefix + ".lat.json"
    row = {"system": system, "workload": workload, "round": rnd}
    mongo = system in MONGO_SYSTEMS
    db, coll = f"peers_{TAG.replace('-', '_')}", f"{system.replace('-', '_')}_{workload}_r{rnd}"
    topic = f"peers-{TAG}-{system}-{workload}-r{rnd}"
    if not mongo:
        create_topic(topic)
    if system in ("edgepipe", "edgepipe-spool-none", "edgepipe-mongodb"):
        sink = f"{MONGO}/{db}.{coll}" if mongo else f"kafka://{BROKERS}/{topic}"
        cmd = [BINARY, "replay", "--trace", data, "--source", api, "--sink", sink]
        if system == "edgepipe-spool-none":
            cmd += ["--spool", "none"]
    elif system == "bento":
        env.update(INPUT=data, TOPIC=topic, BROKERS=BROKERS)
        cmd = [BENTO, "-c", os.path.join(HERE, "bento", f"{api}.yaml")]
    else:
        client = {"confluent-kafka": "confluent", "kafka-python": "kafka-python",
                  "pymongo": "pymongo"}[system]
        target = f"{MONGO}/{db}.{coll}" if mongo else topic
        cmd = [PY, os.path.join(HERE, "py_peer.py"), "--client", client, "--input", data,
               "--api", api, "--brokers", BROKERS, "--topic", target,
               "--lat-out", lat_file, "--lat-every", "10"]
    rc, wall, rss_kb, out = timed(cmd, rundir, env, prefix)
    landed = mongo_count(db, coll, drop=True) if mongo else kcat_count(topic)
    row.update(rc=rc, seconds=wall, peak_rss_mb=(rss_kb or 0) / 1024, landed=landed,  # MiB: time %M is KiB
               records_per_s=landed / wall if wall > 0 else 0)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    try:
        summary = json.loads(last)
        row["own"] = {k: summary[k] for k in ("records", "seconds") if k in summary}
        if system.startswith("edgepipe"):
            row["latency_quantiles_s"] = edgepipe_latency(summary)
            row["own_summary"] = summary
    except ValueError:
        pass
    if os.path.exists(lat_file):
        with open(lat_file) as f:
            row["latency_samples_s"] = json.load(f)
    if rc != 0:
        with open(prefix + ".stderr", "rb") as f:
            row["stderr_tail"] = f.read()[-600:].decode(errors="replace")
    if not mongo:
        delete_topic(topic)
    shutil.rmtree(rundir, ignore_errors=True)
    return row


def med_range(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def fmt(v, unit=""):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M{unit}"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k{unit}"
    return f"{v:.1f}{unit}"


def table(rows, skips, expected):
    lines = ["| workload | system | records/s median [min .. max] | peak RSS MiB median [min .. max] "
             "| wall s (median) | landed / expected | latency p50 / p99 (ms) |",
             "|---|---|---|---|---|---|---|"]
    order = KAFKA_SYSTEMS + MONGO_SYSTEMS
    for wl in WORKLOADS:
        for s in order:
            rs = [r for r in rows if r["system"] == s and r["workload"] == wl]
            if s in skips and not rs and wl != MONGO_WORKLOAD[0]:
                lines.append(f"| {wl} | {s} | SKIP: {skips[s]} | | | | |")
                continue
            if not rs:
                continue
            m, lo, hi = med_range([r["records_per_s"] for r in rs])
            rm, rlo, rhi = med_range([r["peak_rss_mb"] for r in rs])
            w = statistics.median(r["seconds"] for r in rs)
            landed = sorted({r["landed"] for r in rs})
            p50, p99 = latency_p(rs)
            lat = "-" if p50 is None else f"{p50 * 1e3:.1f} / {p99 * 1e3:.1f}"
            lines.append(f"| {wl} | {s} | **{fmt(m)}** [{fmt(lo)} .. {fmt(hi)}] | **{rm:.0f}** "
                         f"[{rlo:.0f} .. {rhi:.0f}] | {w:.2f} | {'/'.join(map(str, landed))} / "
                         f"{expected.get(wl, '?')} | {lat} |")
    return "\n".join(lines)


def latency_p(rs):
    samples = [x for r in rs for x in r.get("latency_samples_s", [])]
    if samples:
        samples.sort()
        return samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    q = {}
    for r in rs:
        for k, v in r.get("latency_quantiles_s", {}).items():
            q.setdefault(k, []).append(v)
    if "p50" in q and "p99" in q:
        return statistics.median(q["p50"]), statistics.median(q["p99"])
    return None, None


def charts(rows, outdir, stamp):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []
    for wl in WORKLOADS:
        wrows = [r for r in rows if r["workload"] == wl]
        if not wrows:
            continue
        systems = [s for s in KAFKA_SYSTEMS + MONGO_SYSTEMS if any(r["system"] == s for r in wrows)]
        for metric, label, fname in (("records_per_s", "records/s (landed / wall time)", "records_per_s"),
                                     ("peak_rss_mb", "peak RSS (MiB)", "peak_rss")):
            meds, errs = [], [[], []]
            for s in systems:
                m, lo, hi = med_range([r[metric] for r in wrows if r["system"] == s])
                meds.append(m)
                errs[0].append(m - lo)
                errs[1].append(hi - m)
            fig, ax = plt.subplots(figsize=(8, 4))
            colors = ["#d62728" if s.startswith("edgepipe") else "#1f77b4" for s in systems]
            ax.bar(systems, meds, yerr=errs, capsize=4, color=colors)
            for i, m in enumerate(meds):
                ax.text(i, m, fmt(m), ha="center", va="bottom", fontsize=8)
            ax.set_ylabel(label)
            ax.set_title(f"{wl}: {label}, median of rounds, bars = min..max ({stamp})", fontsize=9)
            if metric == "peak_rss_mb":
                ax.axhline(64, ls="--", color="gray", lw=1)
                ax.text(len(systems) - 0.5, 64, "64 MiB", ha="right", va="bottom", fontsize=8)
            plt.xticks(rotation=20, fontsize=8)
            fig.tight_layout()
            p = os.path.join(outdir, f"{wl}_{fname}.png")
            fig.savefig(p, dpi=100)
            plt.close(fig)
            made.append(p)
        fig, ax = plt.subplots(figsize=(8, 4))
        for s in systems:
            rs = [r for r in wrows if r["system"] == s]
            samples = sorted(x for r in rs for x in r.get("latency_samples_s", []))
            if samples:
                n = len(samples)
                step = max(1, n // 2000)
                xs = [samples[i] * 1e3 for i in range(0, n, step)] + [samples[-1] * 1e3]
                ys = [i / n for i in range(0, n, step)] + [1.0]
                ax.plot(xs, ys, label=s)
                continue
            pts = {}
            for r in rs:
                for k, v in r.get("latency_quantiles_s", {}).items():
                    pts.setdefault(k, []).append(v)
            qv = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "max": 1.0}
            if pts:
                xs = sorted((statistics.median(v) * 1e3, qv[q]) for q, v in pts.items() if q in qv)
                ax.plot([x for x, _ in xs], [y for _, y in xs], marker="o", label=s + " (batch p50/p99/max)")
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log): produce/insert call -> delivery report (see README)")
        ax.set_ylabel("fraction of records")
        ax.set_title(f"{wl}: latency CDF, all rounds pooled ({stamp})", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        p = os.path.join(outdir, f"{wl}_latency_cdf.png")
        fig.savefig(p, dpi=100)
        plt.close(fig)
        made.append(p)
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("PEERS_ROUNDS", "3")))
    ap.add_argument("--workloads", default=os.environ.get("PEERS_WORKLOADS", "coingecko"))
    ap.add_argument("--systems", default=os.environ.get("PEERS_SYSTEMS", ",".join(KAFKA_SYSTEMS)))
    ap.add_argument("--mongo", type=int, default=int(os.environ.get("PEERS_MONGO", "1")),
                    help="1: also the MongoDB leg (edgepipe-mongodb vs pymongo)")
    ap.add_argument("--results", default=os.environ.get("PEERS_RESULTS", os.path.join(HERE, "results")))
    ap.add_argument("--bento-skip", default=os.environ.get("PEERS_BENTO_SKIP", ""),
                    help="reason Bento could not be built (set by run.sh); its rows say SKIP")
    ap.add_argument("--replot", help="redraw the records/s and RSS charts of a results dir from its runs.jsonl")
    a = ap.parse_args()
    if a.replot:
        rows = [json.loads(l) for l in open(os.path.join(a.replot, "runs.jsonl"))]
        for w in list(WORKLOADS):
            if not any(r["workload"] == w for r in rows):
                del WORKLOADS[w]
        if any(r["workload"] == MONGO_WORKLOAD[0] for r in rows):
            WORKLOADS[MONGO_WORKLOAD[0]] = MONGO_WORKLOAD[2]
        keep = {}
        for p in os.listdir(a.replot):  # the latency CDFs need the samples: keep them as they are
            if p.endswith("_latency_cdf.png"):
                keep[p] = open(os.path.join(a.replot, p), "rb").read()
        stamp = os.environ.get("PEERS_STAMP", "replot")
        charts(rows, a.replot, stamp)
        for p, b in keep.items():
            open(os.path.join(a.replot, p), "wb").write(b)
        return
    workloads = [w for w in a.workloads.split(",") if w]
    for w in list(WORKLOADS):
        if w not in workloads:
            del WORKLOADS[w]
    systems = [s for s in a.systems.split(",") if s]
    skips = {}
    if "bento" in systems and (a.bento_skip or not os.access(BENTO, os.X_OK)):
        skips["bento"] = a.bento_skip or f"no Bento binary at {BENTO}"
        systems.remove("bento")
    systems = [s for s in systems if s not in MONGO_SYSTEMS]
    if a.mongo:
        WORKLOADS[MONGO_WORKLOAD[0]] = MONGO_WORKLOAD[2]
    os.makedirs(a.results, exist_ok=True)
    work = tempfile.mkdtemp(prefix="edgepipe-peers.")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    log(f"# {stamp}; {os.cpu_count()} CPUs, load {open('/proc/loadavg').read().split()[:3]}; work {work}")
    data, expected = {}, {}
    for wl, payloads in WORKLOADS.items():
        path = os.path.join(work, f"{wl}.jsonl")
        api = MONGO_WORKLOAD[1] if wl == MONGO_WORKLOAD[0] else wl
        subprocess.run([BINARY, "synth", "--api", api, "--payloads", str(payloads), "--format",
                        "jsonl", "--out", path, "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
        data[wl] = path
        log(f"# {wl}: {payloads} bodies, {os.path.getsize(path) / 1e6:.0f} MB JSON Lines")
    rows = []
    runs_path = os.path.join(a.results, "runs.jsonl")
    with open(runs_path, "w") as runs:
        for rnd in range(1, a.rounds + 1):
            for wl in WORKLOADS:
                wsys = MONGO_SYSTEMS if wl == MONGO_WORKLOAD[0] else systems
                k = (rnd - 1) % len(wsys)
                order = wsys[k:] + wsys[:k]
                for s in order:
                    row = run_one(s, wl, data[wl], rnd, work)
                    if row["system"].startswith("edgepipe") and "own" in row:
                        expected.setdefault(wl, row["own"].get("records"))
                    rows.append(row)
                    slim = {k: v for k, v in row.items() if k != "latency_samples_s"}
                    slim["latency_samples"] = len(row.get("latency_samples_s", []))
                    runs.write(json.dumps(slim) + "\n")
                    runs.flush()
                    log(f"round {rnd} {wl:11s} {s:20s} rc={row['rc']} {row['landed']:>8} landed "
                        f"{row['seconds']:7.2f} s {fmt(row['records_per_s']):>7} rec/s "
                        f"{row['peak_rss_mb']:6.0f} MiB" + (f"  stderr: {row.get('stderr_tail', '')[-200:]!r}" if row["rc"] else ""))
    t = table(rows, skips, expected)
    made = charts(rows, a.results, stamp)
    goals = []
    for wl in [w for w in WORKLOADS if w != MONGO_WORKLOAD[0]]:
        def med(s, key="records_per_s"):
            v = [r[key] for r in rows if r["system"] == s and r["workload"] == wl]
            return statistics.median(v) if v else None
        ep, bento, kp = med("edgepipe"), med("bento"), med("kafka-python")
        rss = med("edgepipe", "peak_rss_mb")
        if ep and bento:
            goals.append(f"{wl}: edgepipe (spool on) / Bento records/s = {ep / bento:.2f}x (goal >= 5x: "
                         f"{'met' if ep / bento >= 5 else 'NOT met'})")
        elif "bento" in skips:
            goals.append(f"{wl}: edgepipe / Bento: not measured (Bento SKIP: {skips['bento']})")
        if ep and kp:
            goals.append(f"{wl}: edgepipe (spool on) / kafka-python records/s = {ep / kp:.1f}x (goal >= 30x: "
                         f"{'met' if ep / kp >= 30 else 'NOT met'})")
        if rss:
            mib = rss
            goals.append(f"{wl}: edgepipe (spool on) peak RSS = {mib:.0f} MiB (goal <= 64 MiB: "
                         f"{'met' if mib <= 64 else 'NOT met'})")
    summary = (f"Run {stamp}, {a.rounds} rounds, systems rotated per round; "
               f"load at end {open('/proc/loadavg').read().split()[:3]}\n\n{t}\n\n" +
               "\n".join(f"- {g}" for g in goals) + "\n")
    with open(os.path.join(a.results, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)
    log("charts: " + ", ".join(os.path.relpath(p, ROOT) for p in made))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
