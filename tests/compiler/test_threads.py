"""The thread plan on tiny IR: a nest's outer loop runs on threads only when every
statement is owned by it or sums into a small vector (then per-chunk partials); and the
CPU kernel text that follows from the plan."""
from __future__ import annotations

import sympy as sp

from adc.compiler import schedule, threads
from adc.compiler.backends import numba_cpu
from adc.compiler.cse import cse
from adc.compiler.ir import Arg, Program, Stmt, Tensor
from adc.compiler.printer import KernelPrinter

i, j, t = (sp.Symbol(n, integer=True) for n in "ijt")
N = sp.Symbol("N", integer=True, positive=True)
X, G = sp.IndexedBase("X"), sp.IndexedBase("G")


def _t(name, *shape, role="temp"):
    return Tensor(name, tuple(sp.sympify(s) for s in shape), role=role)


def _planned(stmts, *temps):
    args = [_t("X", N, 4, role="data"), _t("G", N, 4, role="param")]
    tensors = {x.name: x for x in args + list(temps)}
    prog = Program("f", [Arg(a.name, a.role, a.shape) for a in args], tensors, stmts,
                   [stmts[-1].target])
    return threads.plan_threads(schedule.schedule(prog))


def _nest(sched):
    (nest,) = [b for b in sched.blocks if isinstance(b, schedule.Nest)]
    return nest


ROWS = ((i, N), (j, 4))


def test_ownership_needs_each_loop_symbol_as_an_index_by_itself():
    st = Stmt("h", (i, j), ROWS, X[i, j])
    assert threads.owned_by(st, (i,)) and threads.owned_by(st, (i, j))
    assert threads.owned_by(Stmt("h", (i, 0), ((i, N),), X[i, 0]), (i,))
    assert not threads.owned_by(Stmt("d_b", (j,), ROWS, X[i, j], accumulate=True), (i,))
    assert not threads.owned_by(Stmt("h", (i + 1, j), ROWS, X[i, j]), (i,))


def test_an_elementwise_nest_over_the_batch_runs_on_threads():
    nest = _nest(_planned([Stmt("h", (i, j), ROWS, sp.tanh(X[i, j]))], _t("h", N, 4)))
    assert nest.threads and nest.scatters == ()


def test_a_bias_gradient_over_the_batch_gets_partials():
    stmts = [Stmt("d_m", (i, j), ROWS, G[i, j] * X[i, j]),
             Stmt("d_b", (j,), ROWS, G[i, j] * X[i, j], accumulate=True)]
    nest = _nest(_planned(stmts, _t("d_m", N, 4), _t("d_b", 4)))
    assert nest.threads and nest.scatters == ("d_b",)


def test_a_large_or_diagonal_scatter_stays_serial():
    diagonal = Stmt("d_W", (j, j), ROWS, G[i, j], accumulate=True)
    assert not _nest(_planned([diagonal], _t("d_W", 4, 4))).threads
    big = Stmt("d_v", (j,), ROWS, G[i, j], accumulate=True)
    wide = threads.PARTIAL_MAX + 1
    assert not _nest(_planned([big], _t("d_v", wide))).threads


def test_a_plain_write_every_iteration_makes_stays_serial():
    last = Stmt("s", (0,), ((i, N),), X[i, 0])       # the last row wins: order matters
    assert not _nest(_planned([last], _t("s"))).threads


def test_a_loop_of_fixed_size_stays_serial():
    st = Stmt("h", (j,), ((j, 4),), X[0, j])
    assert not _nest(_planned([st], _t("h", 4))).threads


def _kernel_text(sched, threaded):
    return numba_cpu.kernel(cse(sched), "k", "doc", KernelPrinter({}), threads=threaded)


def test_the_threaded_kernel_differs_only_in_prange_and_its_decorator():
    stmts = [Stmt("d_m", (i, j), ROWS, G[i, j] * X[i, j]),
             Stmt("d_b", (j,), ROWS, G[i, j] * X[i, j], accumulate=True)]
    sched = _planned(stmts, _t("d_m", N, 4), _t("d_b", 4))
    serial, threaded = _kernel_text(sched, False), _kernel_text(sched, True)
    assert "prange" not in serial and "parallel=True" not in serial
    assert "for chunk in prange(chunks):" in threaded
    assert threaded.replace("prange(", "range(").replace(", parallel=True)", ")") \
        .replace("_blas_dot(", "np.dot(") == serial
    # the scatter adds into its chunk's row, summed in chunk order after the loop
    assert "partials0[chunk, j] +=" in serial
    assert "d_b[flat] += partials0[chunk, flat]" in serial
    assert "chunks = max(1, min(16, (N + 63) // 64))" in serial
    assert "for i in range(chunk * N // chunks, (chunk + 1) * N // chunks):" in serial


def test_the_work_of_a_call_is_its_largest_threaded_nest():
    stmts = [Stmt("h", (i, j), ROWS, sp.tanh(X[i, j]))]
    sched = _planned(stmts, _t("h", N, 4))
    assert threads.work(sched) == 4 * N
    assert numba_cpu.work_code(cse(sched)) == "4*args[0].shape[0]"


def test_a_matrix_scatter_over_its_whole_shape_is_summed_back_over_its_loops():
    k = sp.Symbol("k", integer=True)
    st = Stmt("d_K", (j, k), ((i, N), (j, 4), (k, 3)), G[i, j] * X[i, k], accumulate=True)
    sched = _planned([st], _t("d_K", 4, 3))
    assert _nest(sched).scatters == ("d_K",)
    text = _kernel_text(sched, False)
    assert "partials0 = np.zeros((chunks, 4, 3), dtype)" in text
    assert "partials0[chunk, j, k] +=" in text
    assert "d_K[j, k] += partials0[chunk, j, k]" in text


def test_a_call_with_a_product_blas_would_thread_stays_serial():
    """BLAS runs a large GEMM on its own threads, which spin after the call: prange loops
    between GEMMs waited for a core (20-40x slower on 2 cores). The kernel has its
    threaded variant, and the runner passes the largest product's multiply-adds (a GEMV's
    elements weighted) to _threaded, which keeps the call serial above BLAS_ALONE."""
    r = sp.Symbol("r", integer=True)
    W, V = sp.IndexedBase("W"), sp.IndexedBase("V")
    stmts = [Stmt("mm", (i, j), ROWS, X[i, r] * W[r, j], reduce="sum", rloops=((r, 4),)),
             Stmt("mv", (i,), ((i, N),), X[i, r] * V[r], reduce="sum", rloops=((r, 4),)),
             Stmt("h", (i, j), ROWS, sp.tanh(sp.IndexedBase("mm")[i, j]))]
    sched = _planned(stmts, _t("W", 4, 4, role="param"), _t("V", 4, role="param"),
                     _t("mm", N, 4), _t("mv", N), _t("h", N, 4))
    assert sum(isinstance(b, schedule.Gemm) for b in sched.blocks) == 2
    assert threads.threaded(sched)
    assert threads.products(sched) == sp.Max(16 * N, threads.GEMV_WEIGHT * 4 * N)
    assert numba_cpu.work_code(sched) == "4*args[0].shape[0], 116*args[0].shape[0]"
    assert threads.products(_planned(stmts[2:], _t("h", N, 4))) is None


def test_the_runner_threads_a_call_only_below_blas_alone(monkeypatch):
    """The generated module's _threaded: enough work, no product BLAS would thread, and
    more than one Numba thread; THREADS_FROM = 0 forces threads (the tests' switch)."""
    from adc.compiler import checks_template
    import numpy as np
    namespace = {"get_num_threads": lambda: 2, "np": np}
    exec(checks_template.CHECKS, namespace)
    threaded, alone = namespace["_threaded"], namespace["BLAS_ALONE"]
    assert threaded(1 << 20) and threaded(1 << 20, alone)
    assert not threaded(1 << 20, alone + 1) and not threaded(100)
    namespace["THREADS_FROM"] = 0
    assert threaded(1, alone * 10)
    namespace["get_num_threads"] = lambda: 1
    assert not threaded(1 << 20)
