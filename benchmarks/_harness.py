"""Shared machinery of the benchmark scripts: thread pools, alternating timing, peak memory, reports.

Import this module before anything that loads numpy (deepgrad, torch): BLAS and OpenMP read their
thread counts from the environment only when they load, so the caps are set here, at import time,
from ``--threads`` on the command line (default: the cores this process may run on).

A benchmark case builds the same training step in deepgrad and in PyTorch (same model, weights, data
and hyper-parameters). Timing runs both in one process, alternating step by step after a warm-up, and
reports medians and their ratio; absolute times drift on shared machines, ratios measured side by
side hold. Peak memory is measured per library in a fresh subprocess, so neither library's allocator
state or imports leak into the other's figure.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable


def _threads_from_argv() -> int:
    parser = argparse.ArgumentParser(add_help=False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--threads", type=int, default=cores or 1)
    return max(1, parser.parse_known_args()[0].threads)


THREADS = _threads_from_argv()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import torch  # noqa: E402  (after the thread caps above)

import deepgrad  # noqa: E402

torch.set_num_threads(THREADS)

LIBS = {"deepgrad": deepgrad, "torch": torch}


def blas_threads() -> str:
    """The thread count of each BLAS/OpenMP pool numpy and torch loaded, as threadpoolctl sees it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"threadpoolctl not installed; OMP/OPENBLAS/MKL_NUM_THREADS={THREADS}"
    pools = {f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()}
    return ", ".join(sorted(pools))


# ---------------------------------------------------------------------------------------- cases
Step = Callable[[], object]


@dataclass
class Case:
    """One benchmark: the same step in both libraries.

    ``build(libs)`` returns ``{lib: step}`` for the requested libraries ("deepgrad", "torch"); each
    step runs one full iteration and returns a tensor (the loss) whose value checks that both libraries
    computed the same thing. ``requires`` lists deepgrad attributes (dotted, under ``deepgrad.``) the
    case needs; a missing one skips the case.
    """

    name: str
    description: str
    build: Callable[[tuple], dict]
    steps: int
    target: float | None = None
    warmup: int = 3
    ops_per_step: int | None = None  # when set, the report also gives the time per op
    requires: tuple = field(default_factory=tuple)


def _missing(dotted: str) -> bool:
    module_path, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(f"deepgrad.{module_path}" if module_path else "deepgrad")
    except ImportError:
        return True
    return not hasattr(module, attr)


def missing_feature(case: Case) -> str | None:
    """The first deepgrad attribute ``case`` needs that does not exist yet (``deepgrad.nn.LSTM``), or None."""
    return next((f"deepgrad.{dotted}" for dotted in case.requires if _missing(dotted)), None)


def torch_copy(dg_model, torch_model):
    """Load deepgrad's weights into ``torch_model`` (same state_dict keys) and return it."""
    torch_model.load_state_dict({k: to_torch(v) for k, v in dg_model.state_dict().items()}, strict=True)
    return torch_model


def to_torch(t):
    """A torch tensor holding a copy of deepgrad tensor ``t``'s values."""
    return torch.from_numpy(t.numpy().copy())


def data_for(lib: str, *tensors):
    """deepgrad tensors as they are for deepgrad, copied into torch tensors for torch."""
    return tensors if lib == "deepgrad" else tuple(to_torch(t) for t in tensors)


def value_of(out) -> float:
    """A float summarising a step's result (the loss, or the sum of an output)."""
    return out.detach().sum().item()


def classifier_step(lib, model, optimizer, x, y) -> Step:
    """One training step: cross-entropy of ``model(x)`` against ``y``, backward, optimizer step, then
    the gradients are dropped (zero_grad last, so no step starts holding the previous step's
    gradients: the memory probe's baseline then holds none); returns the loss."""
    cross_entropy = lib.nn.functional.cross_entropy

    def step():
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss
    return step


def classifier_builder(make_model: Callable, input_shape: tuple, classes: int = 10) -> Callable:
    """A ``Case.build`` for a classifier trained with SGD (lr 0.01, momentum 0.9) on one fixed batch of
    standard-normal inputs of ``input_shape`` (batch first). ``make_model(nn)`` builds the model from
    either library's ``nn``; torch's copy starts from deepgrad's weights."""
    def build(libs: tuple) -> dict:
        deepgrad.manual_seed(0)
        dg_model = make_model(deepgrad.nn)
        x, y = deepgrad.randn(*input_shape), deepgrad.randint(0, classes, input_shape[:1])
        steps = {}
        for lib in libs:
            model = dg_model if lib == "deepgrad" else torch_copy(dg_model, make_model(torch.nn))
            optimizer = LIBS[lib].optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            steps[lib] = classifier_step(LIBS[lib], model, optimizer, *data_for(lib, x, y))
        return steps
    return build


# ---------------------------------------------------------------------------------------- timing
@dataclass
class Timing:
    times: dict  # lib -> list of step seconds
    final: dict  # lib -> value_of(last step's result)

    def median_ms(self, lib: str) -> float:
        return 1e3 * statistics.median(self.times[lib])

    def quartiles_ms(self, lib: str) -> tuple:
        q = statistics.quantiles(self.times[lib], n=4)
        return 1e3 * q[0], 1e3 * q[2]


def time_alternating(steps: dict, n: int, warmup: int) -> Timing:
    """Run every library's step ``warmup`` times, then ``n`` timed times each, alternating libraries
    step by step (the order flips every round so neither always runs on a warm or cold cache).
    Every library runs exactly ``warmup + n`` steps, so their final losses are comparable."""
    libs = list(steps)
    for _ in range(warmup):
        for lib in libs:
            steps[lib]()
    gc.collect()
    times = {lib: [] for lib in libs}
    last = {}
    for i in range(n):
        for lib in (libs if i % 2 == 0 else libs[::-1]):
            start = time.perf_counter()
            last[lib] = steps[lib]()
            times[lib].append(time.perf_counter() - start)
    return Timing(times, {lib: value_of(out) for lib, out in last.items()})


# ---------------------------------------------------------------------------------------- memory
def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def _reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets the resident-set high-water mark (VmHWM) to the current RSS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def measure_memory(case: Case, lib: str, steps: int) -> dict:
    """Memory of one library's training steps, in MiB, measured in this process (a fresh one, started
    by ``memory_in_subprocess``, whose malloc settings make RSS follow the live buffers).

    ``peak``: how far the resident-set high-water mark rises, over the first step and ``steps`` more,
    above the RSS once model and data are built: everything training adds (optimizer state, gradients,
    activations, buffers a library caches between steps, and its one-time set-up such as thread pools).
    ``step``: the same over the ``steps`` later steps only, above the RSS before them: what one
    steady-state step holds at once (steps drop their gradients at the end, so its baseline holds
    none). Linux counts RSS per CPU, so these are good to a few hundred KiB. For deepgrad also
    ``traced``: tracemalloc's peak over one more step (numpy registers its buffers with tracemalloc;
    torch's allocations are invisible to it, hence no torch figure).
    """
    step = case.build((lib,))[lib]
    gc.collect()
    _reset_peak_rss()
    built = _status_kib("VmRSS")
    step()
    first_peak = _status_kib("VmHWM")
    gc.collect()
    _reset_peak_rss()
    before = _status_kib("VmRSS")
    for _ in range(steps):
        step()
    later_peak = _status_kib("VmHWM")
    result = {"peak": (max(first_peak, later_peak) - built) / 1024, "step": (later_peak - before) / 1024}
    if lib == "deepgrad":
        gc.collect()
        tracemalloc.start()
        step()
        result["traced"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def memory_in_subprocess(module: str, case: Case, lib: str, steps: int) -> dict | str:
    """``measure_memory`` in a fresh interpreter; the figures, or a one-line reason for their absence."""
    if not os.path.exists("/proc/self/clear_refs"):
        return "n/a (needs Linux /proc)"
    cmd = [sys.executable, os.path.abspath(__file__), "--probe", module, case.name, lib,
           "--probe-steps", str(steps), "--threads", str(THREADS)]
    # glibc: buffers over 64 KiB get their own mapping, returned on free, so RSS tracks the live
    # buffers instead of a heap that only grows (the default threshold adapts upwards after frees)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"n/a (probe failed: {last})"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------- machine load
class OtherLoad:
    """How many cores other processes kept busy, on average, between ``start()`` and ``stop()``.

    Timings are only trustworthy on an otherwise idle machine: when other processes preempt the
    BLAS/OpenMP threads, their spin-waits cost far more than the work and step times inflate many-fold,
    unevenly between the libraries. The figure is the machine's busy CPU time (/proc/stat) minus this
    process's own, over the wall time; None where /proc/stat does not exist.
    """

    def _sample(self):
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        own = os.times()
        return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system, time.perf_counter()

    def start(self) -> None:
        self.begin = self._sample() if os.path.exists("/proc/stat") else None

    def stop(self) -> float | None:
        if self.begin is None:
            return None
        (busy0, own0, t0), (busy1, own1, t1) = self.begin, self._sample()
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (t1 - t0)


BUSY = 0.25  # cores used by other processes above which a timing is flagged


# ---------------------------------------------------------------------------------------- running
@dataclass
class Result:
    case: Case
    skipped: str | None = None
    timing: Timing | None = None
    other_load: float | None = None  # cores other processes used while this case was timed
    memory: dict = field(default_factory=dict)  # lib -> figures dict, or a reason string

    @property
    def ratio(self) -> float | None:
        if self.timing is None:
            return None
        return self.timing.median_ms("deepgrad") / self.timing.median_ms("torch")

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        if self.case.target is None:
            return "-"
        return "PASS" if self.ratio <= self.case.target else "MISS"


def _fmt_memory(figures) -> str:
    if isinstance(figures, str):
        return figures
    text = f"peak {figures['peak']:.1f}, step {figures['step']:.1f}"
    if "traced" in figures:
        text += f", traced {figures['traced']:.1f}"
    return text


def run_case(module: str, case: Case, quick: bool, memory: bool) -> Result:
    """Time ``case`` (and measure its memory unless ``memory`` is False), printing a report."""
    print(f"\n== {case.name}: {case.description}", flush=True)
    missing = missing_feature(case)
    if missing:
        print(f"   skipped: {missing} not available yet")
        return Result(case, skipped=f"{missing} not available yet")
    n = max(5, case.steps // 5) if quick else case.steps
    steps = case.build(tuple(LIBS))
    watch = OtherLoad()
    watch.start()
    timing = time_alternating(steps, n, 1 if quick else case.warmup)
    result = Result(case, timing=timing, other_load=watch.stop())
    for lib in LIBS:
        lo, hi = timing.quartiles_ms(lib)
        per_op = ""
        if case.ops_per_step:
            per_op = f" = {1e3 * timing.median_ms(lib) / case.ops_per_step:6.2f} us/op"
        print(f"   {lib:<9} {timing.median_ms(lib):9.3f} ms{per_op}  (median of {n}, quartiles "
              f"{lo:.3f}-{hi:.3f})   final value {timing.final[lib]:.6f}")
    dg, tc = timing.final["deepgrad"], timing.final["torch"]
    agreement = abs(dg - tc) / max(abs(tc), 1e-12)
    print(f"   final values agree to {agreement:.1e} (relative)"
          + ("" if agreement < 1e-3 else "   <-- MISMATCH: the two libraries did not compute the same"))
    target = f"target <= {case.target:.2f}  {result.verdict}" if case.target is not None else "no target"
    print(f"   ratio deepgrad/torch {result.ratio:.2f}   {target}", flush=True)
    if result.other_load is not None:
        print(f"   other processes kept {result.other_load:.2f} cores busy while this was timed"
              + ("   <-- BUSY: timings not trustworthy" if result.other_load > BUSY else ""))
    if memory:
        for lib in LIBS:
            result.memory[lib] = memory_in_subprocess(module, case, lib, 2 if quick else 3)
        print("   memory (MiB): "
              + "; ".join(f"{lib} {_fmt_memory(result.memory[lib])}" for lib in LIBS), flush=True)
    return result


def _mem_cell(result: Result, lib: str, key: str) -> str:
    figures = result.memory.get(lib)
    if isinstance(figures, dict):
        return f"{figures[key]:.1f}" if key in figures else "-"
    return "n/a" if figures else "-"


def print_summary(results: list) -> None:
    """The table of every case: median times, ratio, target, verdict and memory (MiB)."""
    memory = (("deepgrad", "peak"), ("torch", "peak"), ("deepgrad", "step"), ("torch", "step"),
              ("deepgrad", "traced"))
    header = (f"{'workload':<21}{'deepgrad ms':>12}{'torch ms':>10}{'ratio':>7}{'target':>8}  {'result':<7}"
              + "".join(f"{('dg ' if lib == 'deepgrad' else 'pt ') + key:>10}" for lib, key in memory))
    print("\n" + header)
    print("-" * len(header))
    for r in results:
        if r.timing is None:
            print(f"{r.case.name:<21}  skipped: {r.skipped}")
            continue
        target = f"<={r.case.target:.2f}" if r.case.target is not None else "-"
        print(f"{r.case.name:<21}{r.timing.median_ms('deepgrad'):>12.3f}{r.timing.median_ms('torch'):>10.3f}"
              f"{r.ratio:>7.2f}{target:>8}  {r.verdict:<7}"
              + "".join(f"{_mem_cell(r, lib, key):>10}" for lib, key in memory))
    if any(r.memory for r in results):
        print("memory, MiB (RSS in a fresh process per library): peak = highest RSS over the first steps\n"
              "above the built model and data; step = the same for a steady-state step; traced = deepgrad's\n"
              "tracemalloc peak over one steady-state step. dg = deepgrad, pt = PyTorch.")


def parser(description: str) -> argparse.ArgumentParser:
    """The command line shared by run_all.py and the per-workload scripts."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer steps: a smoke run")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only this workload (mlp, cnn...) or case (cnn/lenet); repeatable")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--threads", type=int, default=THREADS,
                   help="threads for torch and numpy's BLAS (default: the cores available)")
    return p


def selected(module: str, case: Case, only: list) -> bool:
    return not only or module in only or case.name in only


def run_modules(modules: list, description: str) -> list:
    """Parse the command line, run the selected cases of ``modules`` and print the summary."""
    args = parser(description).parse_args()
    print(f"deepgrad {deepgrad.__version__} vs torch {torch.__version__} (CPU); torch threads "
          f"{torch.get_num_threads()}; BLAS/OpenMP pools: {blas_threads()}")
    results = []
    for name in modules:
        for case in importlib.import_module(name).CASES:
            if selected(name, case, args.only):
                results.append(run_case(name, case, args.quick, not args.no_memory))
    if not results:
        raise SystemExit(f"--only {args.only}: no such workload or case among {modules}")
    print_summary(results)
    busy = [r.case.name for r in results if r.other_load is not None and r.other_load > BUSY]
    if busy:
        print(f"WARNING: other processes kept more than {BUSY} cores busy while {', '.join(busy)} ran: "
              f"those timings and ratios are not trustworthy; rerun on an idle machine")
    return results


def _probe_main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--probe", nargs=3, metavar=("MODULE", "CASE", "LIB"), required=True)
    p.add_argument("--probe-steps", type=int, default=3)
    p.add_argument("--threads", type=int)
    args = p.parse_args()
    module, case_name, lib = args.probe
    case = next(c for c in importlib.import_module(module).CASES if c.name == case_name)
    print(json.dumps(measure_memory(case, lib, args.probe_steps)))


if __name__ == "__main__":
    _probe_main()
