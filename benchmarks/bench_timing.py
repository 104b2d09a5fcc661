"""Interleaved timing and robust statistics.

Methodology (see docs/performance.md):

* every candidate runs in the same process on the same object;
* a sample is ``run(loops)`` timed with ``perf_counter``; ``loops`` is
  calibrated once (on the reference candidate) so a sample lasts at least
  ``target`` seconds, and the *same* loop count is used for every candidate;
* each candidate is warmed up before timing;
* samples are interleaved A B A B ...; the order alternates every round
  (A B, B A, A B ...) so neither candidate always runs right after the other;
* the cyclic GC is disabled while timing (``gc.collect()`` between rounds);
* the result of a comparison is the distribution of per-round ratios
  ``t_pickler / t_C``: median, p25-p75 and min-max.  A ratio of two samples
  taken a few milliseconds apart cancels most of the drift caused by other
  processes on a shared machine.
"""
import gc
import math
import time

perf_counter = time.perf_counter


def time_run(run, n):
    t0 = perf_counter()
    run(n)
    return perf_counter() - t0


def calibrate(run, target, max_loops=1_000_000):
    """Loops per sample so that one sample lasts >= target seconds.
    Also warms ``run`` up.  Returns (loops, seconds_per_op_estimate)."""
    t = time_run(run, 1)
    t = min(t, time_run(run, 1))
    if t >= target:
        return 1, t
    loops = min(max_loops, max(1, math.ceil(target / max(t, 1e-8))))
    t2 = time_run(run, loops) / loops
    loops = min(max_loops, max(1, math.ceil(target / max(t2, 1e-8))))
    return loops, t2


def interleaved(runners, rounds, every=None):
    """Time ``runners`` ({name: (run, loops)}) interleaved for ``rounds``.

    ``every`` ({name: k}) times a slow candidate only on every k-th round.
    Returns {name: [seconds per op or None] * rounds}.
    """
    every = every or {}
    names = list(runners)
    samples = {name: [None] * rounds for name in names}
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                k = every.get(name)
                if k and r % k:
                    continue
                run, loops = runners[name]
                t0 = perf_counter()
                run(loops)
                samples[name][r] = (perf_counter() - t0) / loops
            gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    return samples


def percentile(sorted_values, q):
    """Linear-interpolated percentile, q in [0, 100]."""
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac


def summarize(values):
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    return {
        "median": percentile(vals, 50),
        "p25": percentile(vals, 25),
        "p75": percentile(vals, 75),
        "min": vals[0],
        "max": vals[-1],
        "n": len(vals),
    }


def ratios(samples, num, den, baseline=None):
    """Per-round ratios samples[num] / samples[den] (optionally after
    subtracting a per-round baseline sample from both)."""
    out = []
    a, b = samples[num], samples[den]
    base = samples.get(baseline) if baseline else None
    for r in range(len(a)):
        if a[r] is None or b[r] is None:
            continue
        x, y = a[r], b[r]
        if base is not None:
            if base[r] is None:
                continue
            x -= base[r]
            y -= base[r]
            if y <= 0:
                continue
        out.append(x / y)
    return out


def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return float("nan")
    return math.exp(sum(math.log(v) for v in values) / len(values))
