"""Text table, target evaluation, Markdown section and PNG plot."""
import datetime
import math
import re

from bench_large import _fmt_bytes, fmt_size, fmt_time
from bench_timing import geomean

MiB = 1 << 20

HEADER = ("{!s:<22} {!s:<5} {!s:>6} {!s:>13} {!s:>13} {!s:>10} {!s:>10} {!s:>7}  {}".format(
    "workload", "op", "p/C", "p25-p75", "min-max", "pickler", "C", "py/C",
    "notes"))


def _rng(s, lo, hi):
    return f"{s[lo]:.2f}-{s[hi]:.2f}"


def format_row(row):
    if "ratio" not in row:
        return "{!s:<22} {!s:<5}  ERROR {}".format(row["workload"], row["op"],
                                         row.get("error"))
    r = row["ratio"]
    notes = []
    if row.get("identical_output") is False:
        notes.append("OUTPUT DIFFERS FROM C")
    if "ratio_net" in row:
        notes.append("net of loop {:.2f}".format(row["ratio_net"]["median"]))
    if row["unit_name"] not in ("op", "byte"):
        notes.append("{}/{}".format(fmt_time(row["per_unit"]["pickler"]),
                                row["unit_name"]))
    if "gbps" in row:
        notes.append("{:.2f} GB/s".format(row["gbps"]["pickler"]))
    if row.get("warning"):
        notes.append(row["warning"])
    py = "{:.1f}".format(row["ratio_py"]["median"]) if "ratio_py" in row else "-"
    flag = " !" if r["median"] > 1.0 else "  "
    return "{!s:<22} {!s:<5} {:6.3f} {!s:>13} {!s:>13} {!s:>10} {!s:>10} {!s:>7}{} {}".format(
        row["workload"], row["op"], r["median"], _rng(r, "p25", "p75"),
        _rng(r, "min", "max"), fmt_time(row["times"]["pickler"]["median"]),
        fmt_time(row["times"]["C"]["median"]), py, flag, "; ".join(notes))


def format_scaling_row(row):
    r = row["ratio"]
    return "  {!s:<5} {:9d} records  p/C {:.3f} [{:.2f}-{:.2f}]  pickler {}/rec  C {}/rec".format(
        row["op"], row["records"], r["median"], r["min"], r["max"],
        fmt_time(row["per_record"]["pickler"]), fmt_time(row["per_record"]["C"]))


# ---------------------------------------------------------------------------
# Targets (docs/performance.md).

def _check(name, value, limit, cmp, detail="", fmt="%.3f"):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        status = "n/a"
        shown = "-"
    else:
        ok = value <= limit if cmp == "<=" else value >= limit
        status = "PASS" if ok else "FAIL"
        shown = fmt % value
    return {"target": name, "value": value, "shown": shown,
            "limit": f"{cmp} {fmt % limit}", "status": status,
            "detail": detail}


def evaluate_targets(results):
    rows = [r for r in results["workloads"] if "ratio" in r]
    out = []
    for op, gm_limit in (("dumps", 0.80), ("loads", 0.90)):
        # (the surface workloads compare different things: see below)
        sel = [r for r in rows if r["op"] == op and r["kind"] != "surface"]
        if not sel:
            continue
        worst = max(sel, key=lambda r: r["ratio"]["median"])
        out.append(_check(f"{op}: slowest workload vs C",
                          worst["ratio"]["median"], 1.0, "<=",
                          worst["workload"]))
        out.append(_check(f"{op}: geometric mean of medians",
                          geomean([r["ratio"]["median"] for r in sel]),
                          gm_limit, "<=", f"{len(sel)} workloads"))
    sub = [r for r in rows if r["kind"] == "subclass"]
    if sub:
        worst = max(sub, key=lambda r: r["ratio"]["median"])
        out.append(_check("subclass workloads: slowest vs C",
                          worst["ratio"]["median"], 1.0, "<=",
                          "{} {}".format(worst["workload"], worst["op"])))
    # Issue 6: the pure-Python surface.  Against the same subclass on
    # pickle._Pickler (py), and against the C pickler without the override.
    for r in [r for r in rows if r["kind"] == "surface"]:
        out.append(_check("{}: pickler vs C without the override".format(r["workload"]),
                          r["ratio"]["median"], 1.5, "<="))
        if "ratio_py" in r:
            out.append(_check("{}: speedup over the pickle._Pickler subclass".format(r["workload"]),
                              r["ratio_py"]["median"] / r["ratio"]["median"],
                              10.0, ">=", fmt="%.1f"))
    tiny = [r for r in rows if r["kind"] == "tiny"]
    for op in ("dumps", "loads"):
        sel = [r for r in tiny if r["op"] == op and "ratio_net" in r]
        if sel:
            worst = max(sel, key=lambda r: r["ratio_net"]["median"])
            out.append(_check(f"tiny {op}: per-call overhead vs C (net of loop)",
                              worst["ratio_net"]["median"], 0.70, "<=",
                              worst["workload"]))
    for r in results.get("large", []):
        if r["mode"] == "dumps" and "frac_memcpy" in r:
            out.append(_check("in-band dumps {}: fraction of memcpy".format(fmt_size(r["size"])),
                              r["frac_memcpy"]["pickler"]["median"], 0.90, ">=",
                              "{:.2f} GB/s; C {:.0f}%; vs alloc+copy "
                              "(arr.tobytes()): pickler {:.0f}%, C {:.0f}%".format(
                                  r["gbps"]["pickler"],
                                  100 * r["frac_memcpy"]["C"]["median"],
                                  100 * r["frac_alloc_copy"]["pickler"]["median"],
                                  100 * r["frac_alloc_copy"]["C"]["median"]),
                              fmt="%.2f"))
    oob = [r for r in results.get("large", []) if r["mode"] == "dumps_oob"]
    if len(oob) > 1:
        big = max(oob, key=lambda r: r["size"])
        out.append(_check("out-of-band: time at {} / time at {}".format(
            fmt_size(big["size"]), fmt_size(min(r["size"] for r in oob))),
            big["vs_smallest"]["pickler"], 2.0, "<=",
            "{} per call".format(fmt_time(big["times"]["pickler"]["median"])),
            fmt="%.2f"))
    files = [r for r in results.get("peak_memory", [])
             if r["mode"] == "dump_file" and "rss_extra" in r["pickler"]]
    if files:
        big = max(files, key=lambda r: r["size"])
        name = "dump to file {}: peak extra memory (MiB)".format(fmt_size(big["size"]))
        if big["size"] < 512 * MiB:
            name += " [512 MiB needs --large]"
        out.append(_check(name, big["pickler"]["rss_extra"] / MiB, 1.0, "<=",
                          "C: {}".format(_fmt_bytes(big["C"].get("rss_extra"))),
                          fmt="%.2f"))
    return out


def format_targets(targets):
    lines = ["targets:"]
    for t in targets:
        lines.append("  [{!s:<4}] {!s:<58} {!s:>8}  (target {})  {}".format(
            t["status"], t["target"], t["shown"], t["limit"], t["detail"]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Markdown (for docs/performance.md and results/latest.md).

def markdown(results, png_name="latest.png"):
    m = results["meta"]
    mi, pi = m["machine"], m["pickler"]
    L = []
    L.append("Measured {} with `python benchmarks/run.py{}` (mode {}, {:.0f} s).".format(
        m["started"], "".join(" " + a for a in m.get("argv", [])), m["mode"],
        m.get("duration_s", 0)))
    L.append("")
    L.append("- Machine: {} CPUs (`nproc`), {}; load average {} at start, {} at end".format(
        mi["nproc"], mi["cpu_model"], _la(m.get("loadavg_start")),
        _la(m.get("loadavg_end"))))
    L.append("- Python {} ({}), numpy {}, {}".format(mi["python"], mi["python_build"],
                                              mi["numpy"], mi["platform"]))
    comp = ", ".join("`{}` built {}".format(
        c["file"].rsplit("/", 1)[-1],
        datetime.datetime.fromtimestamp(c["mtime"], datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC")) for c in pi["compiled"].values()) \
        or "none (shim?)"
    L.append("- pickler: `{}` (git {}; compiled modules: {}){}".format(
        pi["file"], pi["git"], comp,
        " -- **dumps/Pickler are `_pickle`'s (shim): ratios are ~1 by "
        "construction**" if pi["dumps_is_C"] else ""))
    if pi["loads_is_C"]:
        L.append("- `pickler.loads` is `_pickle.loads` in this build: loads "
                 "ratios compare C with itself")
    L.append("")
    L.append(f"![pickler / C time ratios]({png_name})")
    L.append("")
    if results["targets"]:
        L.append("| target | measured | goal | status | detail |")
        L.append("|---|---:|---:|---|---|")
        for t in results["targets"]:
            L.append("| {} | {} | {} | {} | {} |".format(
                t["target"], t["shown"], t["limit"], t["status"], t["detail"]))
        L.append("")
    rows = results["workloads"]
    if rows:
        L.append("Ratios are `t_pickler / t_C` per interleaved round: median "
                 "[p25-p75] (min-max); below 1 is faster than C.")
        L.append("")
        L.append("| workload | op | pickler/C | p25-p75 | min-max | pickler | C | py/C | notes |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            if "ratio" not in r:
                L.append("| {} | {} | error | | | | | | {} |".format(
                    r["workload"], r["op"], r.get("error")))
                continue
            q = r["ratio"]
            notes = []
            if r.get("identical_output") is False:
                notes.append("**output differs from C**")
            if "ratio_net" in r:
                notes.append("net of loop overhead {:.2f}".format(r["ratio_net"]["median"]))
            if r["unit_name"] not in ("op", "byte"):
                notes.append("{} per {}".format(fmt_time(r["per_unit"]["pickler"]),
                                            r["unit_name"]))
            if "gbps" in r:
                notes.append("{:.2f} GB/s".format(r["gbps"]["pickler"]))
            L.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                r["workload"], r["op"],
                ("**%.3f**" if q["median"] > 1 else "%.3f") % q["median"],
                _rng(q, "p25", "p75"), _rng(q, "min", "max"),
                fmt_time(r["times"]["pickler"]["median"]),
                fmt_time(r["times"]["C"]["median"]),
                "{:.1f}".format(r["ratio_py"]["median"]) if "ratio_py" in r else "-",
                "; ".join(notes)))
        L.append("")
    if results.get("scaling"):
        L.append("Scaling (json_records), time per record:")
        L.append("")
        L.append("| records | op | pickler/C | min-max | pickler | C |")
        L.append("|---:|---|---:|---:|---:|---:|")
        for r in results["scaling"]:
            L.append("| {} | {} | {:.3f} | {} | {} | {} |".format(
                r["records"], r["op"], r["ratio"]["median"],
                _rng(r["ratio"], "min", "max"),
                fmt_time(r["per_record"]["pickler"]), fmt_time(r["per_record"]["C"])))
        L.append("")
    if results.get("large"):
        L.append("Large float64 arrays, protocol 5 (memcpy = `numpy.copyto` into "
                 "a preallocated array, timed in the same rounds):")
        L.append("")
        L.append("| mode | size | pickler/C | min-max | pickler | C | pickler GB/s | "
                 "% of memcpy (pickler / C) | memcpy GB/s | alloc+copy GB/s | "
                 "% of alloc+copy (pickler / C) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["large"]:
            fm = r.get("frac_memcpy")
            fa = r.get("frac_alloc_copy")
            L.append("| {} | {} | {:.3f} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                r["mode"], fmt_size(r["size"]), r["ratio"]["median"],
                _rng(r["ratio"], "min", "max"),
                fmt_time(r["times"]["pickler"]["median"]),
                fmt_time(r["times"]["C"]["median"]),
                "{:.2f}".format(r["gbps"]["pickler"]) if fm else "-",
                "{:.0f}% / {:.0f}%".format(100 * fm["pickler"]["median"],
                                     100 * fm["C"]["median"]) if fm else "-",
                "{:.2f}".format(r["gbps"]["memcpy"]) if fm else "-",
                "{:.2f}".format(r["gbps"]["alloc_copy"]) if fm else "-",
                "{:.0f}% / {:.0f}%".format(100 * fa["pickler"]["median"],
                                     100 * fa["C"]["median"]) if fa else "-"))
        L.append("")
    if results.get("peak_memory"):
        L.append("Peak extra memory of one call (fresh interpreter; peak RSS "
                 "(VmHWM) delta, ru_maxrss off Linux; x = relative to the "
                 "payload; tracemalloc peak where measured):")
        L.append("")
        L.append("| mode | size | pickler RSS | C RSS | pickler tracemalloc | C tracemalloc |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for r in results["peak_memory"]:
            cells = []
            for c in ("pickler", "C"):
                res = r[c]
                cells.append("{} ({:.3f}x)".format(_fmt_bytes(res["rss_extra"]),
                                             res["rss_extra"] / r["size"])
                             if "rss_extra" in res else "error")
            for c in ("pickler", "C"):
                cells.append(_fmt_bytes(r[c]["tracemalloc_extra"])
                             if "tracemalloc_extra" in r[c] else "-")
            L.append("| {} | {} | {} |".format(r["mode"], fmt_size(r["size"]),
                                          " | ".join(cells)))
        L.append("")
    return "\n".join(L) + "\n"


def _la(v):
    return "-" if not v else f"{v[0]:.2f}"


BEGIN = "<!-- BEGIN MEASURED RESULTS (generated by benchmarks/run.py --update-docs) -->"
END = "<!-- END MEASURED RESULTS -->"


def update_docs(path, md):
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no measured-results markers")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    text = pattern.sub(lambda _: BEGIN + "\n" + md + END, text)
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------
# Plot.

def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results["workloads"] if "ratio" in r]
    large = results.get("large", [])
    scaling = results.get("scaling", [])
    panels = [("dumps", 0.80), ("loads", 0.90)]
    n_extra = bool(large) + bool(scaling)
    names = []
    for r in rows:
        if r["workload"] not in names:
            names.append(r["workload"])
    height = max(4.0, 0.32 * len(names) + 1.5)
    nrows = 2 if n_extra else 1
    fig, axes = plt.subplots(nrows, 2, squeeze=False, figsize=(
        13, height + (4.5 if n_extra else 0)),
        gridspec_kw={"height_ratios": [height, 4.5] if n_extra else [1]})
    axes = list(axes.ravel())
    if n_extra == 1:
        axes[3].set_visible(False)
    for ax, (op, goal) in zip(axes, panels):
        sel = {r["workload"]: r for r in rows if r["op"] == op}
        ys = list(range(len(names)))[::-1]
        for y, name in zip(ys, names):
            r = sel.get(name)
            if r is None:
                continue
            q = r["ratio"]
            color = "tab:red" if q["median"] > 1 else "tab:blue"
            ax.plot([q["min"], q["max"]], [y, y], color=color, lw=1, alpha=0.6)
            ax.plot([q["p25"], q["p75"]], [y, y], color=color, lw=5, alpha=0.6,
                    solid_capstyle="butt")
            ax.plot([q["median"]], [y], "o", color=color, ms=5)
            if "ratio_net" in r:
                ax.plot([r["ratio_net"]["median"]], [y], "x", color="k", ms=5)
        ax.axvline(1.0, color="k", lw=1)
        ax.axvline(goal, color="tab:green", lw=1, ls="--",
                   label=f"geomean target {goal:.2f}")
        gm = geomean([sel[n]["ratio"]["median"] for n in names if n in sel])
        if not math.isnan(gm):
            ax.axvline(gm, color="tab:orange", lw=1, ls=":",
                       label=f"geomean {gm:.3f}")
        ax.set_yticks(ys)
        ax.set_yticklabels(names, fontsize=8)
        ax.set_xlabel("time pickler / time C  (median, p25-p75, min-max; x = net of loop)")
        ax.set_title(op)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    k = 2
    if large:
        ax = axes[k]
        k += 1
        sel = [r for r in large if "frac_memcpy" in r]
        labels = ["{} {}".format(r["mode"], fmt_size(r["size"])) for r in sel]
        ys = list(range(len(sel)))[::-1]
        p = [100 * r["frac_memcpy"]["pickler"]["median"] for r in sel]
        c = [100 * r["frac_memcpy"]["C"]["median"] for r in sel]
        a = [100 * r["frac_memcpy"]["alloc_copy"]["median"] for r in sel]
        ax.barh([y + 0.27 for y in ys], p, height=0.27, label="pickler")
        ax.barh([y for y in ys], c, height=0.27, label="C", color="tab:gray")
        ax.barh([y - 0.27 for y in ys], a, height=0.27, color="tab:olive",
                label="arr.tobytes() (alloc + copy)")
        ax.axvline(90, color="tab:green", ls="--", lw=1, label="target (in-band dumps) 90%")
        ax.set_yticks(ys)
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_xlabel("% of memcpy bandwidth (median)")
        ax.set_title("large arrays")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    if scaling:
        ax = axes[k]
        for op, style in (("dumps", "-o"), ("loads", "-s")):
            sel = [r for r in scaling if r["op"] == op]
            if sel:
                ax.plot([r["records"] for r in sel],
                        [r["per_record"]["pickler"] * 1e9 for r in sel], style,
                        label=f"pickler {op}")
                ax.plot([r["records"] for r in sel],
                        [r["per_record"]["C"] * 1e9 for r in sel], style,
                        color="tab:gray", alpha=0.6, label=f"C {op}")
        ax.set_xscale("log")
        ax.set_xlabel("records")
        ax.set_ylabel("ns per record")
        ax.set_title("scaling (json_records)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    m = results["meta"]
    fig.suptitle("pickler vs C pickler -- {}, Python {}, {} CPUs, {} (git {})".format(
        m["mode"], m["machine"]["python"], m["machine"]["nproc"],
        m["started"][:16], m["pickler"]["git"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
