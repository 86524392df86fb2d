#!/usr/bin/env python3
"""PyTorch reference timings for the stepwise GPU kernels (kernels.md §3), for a GPU machine with PyTorch.

Times, with CUDA events after warm-up, rotating input sets, median + p20/p80:
  floors      : device-to-device copy (bytes/s, read + write counted) and a bf16 GEMM (FLOP/s), measured first
  (a) logits  : eager log_softmax+gather, gather - logsumexp, torch.compile of it, F.cross_entropy fwd and fwd+bwd
  (a') hidden : the three plain GEMMs (torch.mm, the target denominator), eager fwd / fwd+bwd,
                F.linear_cross_entropy when this torch has it
  (b), (c)    : reward weighting and the DPO margin loss, eager and compiled, under CUDA-graph replay
Prints one JSON object per line (kernel, impl, direction, dtype, N, V, d, seconds, gelemPerSec, floorRatio, ...)
to stdout and to --out. floorRatio = floorSeconds / seconds (1.0 = at the floor), as in the Node harness.
Our own CUDA kernels are timed from Node (`stepwise bench kernels`); this script gives the side-by-side numbers.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

IGNORE = -100
RECORDS = []


def emit(rec, out):
    line = json.dumps(rec)
    print(line, flush=True)
    if out:
        out.write(line + "\n")
        out.flush()
    RECORDS.append(rec)


def pct(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def time_calls(fn, sets, warmup=3, repeats=20, budget_s=20.0):
    """Median/p20/p80 seconds of fn(sets[i % len(sets)]) with CUDA events, one event pair per call."""
    for i in range(warmup):
        fn(sets[i % len(sets)])
    torch.cuda.synchronize()
    times, t0 = [], time.time()
    for i in range(repeats):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(sets[i % len(sets)])
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
        if time.time() - t0 > budget_s and len(times) >= 5:
            break
    return {"seconds": pct(times, 0.5), "p20": pct(times, 0.2), "p80": pct(times, 0.8), "repeats": len(times)}


def time_graph(fn, inputs, replays=200):
    """Per-call seconds of fn(inputs) captured in a CUDA graph and replayed (kernels.md §3: small kernels)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn(inputs)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn(inputs)
    for _ in range(10):
        g.replay()
    times = []
    for _ in range(7):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(replays):
            g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 1e3 / replays)
    return {"seconds": pct(times, 0.5), "p20": pct(times, 0.2), "p80": pct(times, 0.8), "repeats": 7 * replays}


def peak_extra(fn, inp):
    """Peak bytes allocated above what was live before one call (kernels.md §3 item 5)."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    r = fn(inp)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del r
    return peak


def record(kernel, impl, direction, dtype, N, V, d, t, floor_s, floor_bound, elements=None, flops=None,
           bytes_=None, peak=None, err=None, note=None):
    sec = t["seconds"] if t else None
    rec = {"kernel": kernel, "impl": impl, "direction": direction, "dtype": dtype, "N": N, "V": V, "d": d,
           "seconds": sec, "p20": t and t["p20"], "p80": t and t["p80"], "repeats": t and t["repeats"],
           "gelemPerSec": (elements / sec / 1e9) if (sec and elements) else None,
           "gbPerSec": (bytes_ / sec / 1e9) if (sec and bytes_) else None,
           "tflopPerSec": (flops / sec / 1e12) if (sec and flops) else None,
           "floorSeconds": floor_s, "floorBound": floor_bound,
           "floorRatio": (floor_s / sec) if (sec and floor_s) else None,
           "peakExtraBytes": peak, "maxAbsErr": err, "device": torch.cuda.get_device_name()}
    if note:
        rec["note"] = note
    return rec


def skipped(kernel, impl, direction, dtype, N, V, d, why):
    return {"kernel": kernel, "impl": impl, "direction": direction, "dtype": dtype, "N": N, "V": V, "d": d,
            "seconds": None, "gelemPerSec": None, "floorRatio": None, "skipped": why[:300]}


def run_safely(out, kernel, impl, direction, dtype, N, V, d, body):
    try:
        emit(body(), out)
    except Exception as e:  # OOM, a torch.compile failure: one line says so, the run goes on
        emit(skipped(kernel, impl, direction, dtype, N, V, d, f"{type(e).__name__}: {e}"), out)
    finally:
        torch.cuda.empty_cache()


# ---- realistic data (kernels.md §3 item 4) ---------------------------------------------------------------------
def dpo_mask(N, gen, seq=1024):
    """Packed sequences of `seq` tokens whose first 30-60% (prompt) are ignored."""
    keep = torch.ones(N, dtype=torch.bool, device="cuda")
    for s0 in range(0, N, seq):
        p = int(seq * (0.3 + 0.3 * torch.rand(1, generator=gen, device="cuda").item()))
        keep[s0:s0 + p] = False
    return keep


def make_logit_set(N, V, dtype, gen):
    # sigma ~ 3 with a heavy tail (a few large logits per row), targets drawn from the softmax.
    z = torch.randn(N, V, device="cuda", generator=gen) * 3.0
    z += (torch.rand(N, V, device="cuda", generator=gen) < 1e-3) * 8.0
    z = z.to(dtype)
    tgt = torch.empty(N, dtype=torch.long, device="cuda")
    for r0 in range(0, N, 1024):  # chunked: multinomial needs fp32 probabilities
        tgt[r0:r0 + 1024] = torch.multinomial(torch.softmax(z[r0:r0 + 1024].float(), -1), 1).squeeze(1)
    tgt[~dpo_mask(N, gen)] = IGNORE
    return z, tgt


# ---- (a) references ---------------------------------------------------------------------------------------------
def eager_log_softmax_gather(z, t):
    valid = t >= 0
    lp = torch.log_softmax(z.float(), -1).gather(-1, t.clamp_min(0)[:, None]).squeeze(-1)
    return lp * valid


def gather_minus_lse(z, t):
    valid = t >= 0
    zt = z.gather(-1, t.clamp_min(0)[:, None]).squeeze(-1).float()
    return (zt - torch.logsumexp(z.float(), -1)) * valid


def ref_logp_f64(z, t, rows=64):
    z64 = z[:rows].double()
    lp = torch.log_softmax(z64, -1).gather(-1, t[:rows].clamp_min(0)[:, None]).squeeze(-1)
    return lp * (t[:rows] >= 0)


def bench_logits(args, out, floors):
    gen = torch.Generator(device="cuda").manual_seed(1234)
    compiled = None
    for dtype in args.dtypes:
        dt = {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
        for N in args.N:
            for V in args.V:
                esz = 2 if dt == torch.bfloat16 else 4
                nbytes = N * V * esz
                # >= 3 sets when they fit (rotation defeats the 50-60 MB L2); one set of GBs is already >> L2.
                nsets = 3 if 3 * nbytes < 0.25 * torch.cuda.mem_get_info()[0] else 1
                try:
                    sets = [make_logit_set(N, V, dt, gen) for _ in range(nsets)]
                except torch.cuda.OutOfMemoryError as e:
                    emit(skipped("step_logprob", "torch", "fwd", dtype, N, V, None, f"OOM making inputs: {e}"), out)
                    torch.cuda.empty_cache()
                    continue
                ref = ref_logp_f64(*sets[0])
                fwd_floor = nbytes / floors["copy"]
                fb_floor = 3 * nbytes / floors["copy"]  # fwd read + bwd read + write of dlogits

                def fwd_case(impl, fn):
                    def body():
                        got = fn(*sets[0])[:64].double()
                        err = (got - ref).abs().max().item()
                        t = time_calls(lambda s: fn(*s), sets, repeats=args.repeats)
                        return record("step_logprob", impl, "fwd", dtype, N, V, None, t, fwd_floor, "copy",
                                      elements=N * V, bytes_=nbytes, peak=peak_extra(lambda s: fn(*s), sets[0]),
                                      err=err)
                    run_safely(out, "step_logprob", impl, "fwd", dtype, N, V, None, body)

                fwd_case("torch_eager_log_softmax_gather", eager_log_softmax_gather)
                fwd_case("torch_eager_gather_minus_lse", gather_minus_lse)
                if not args.no_compile:
                    if compiled is None:
                        compiled = torch.compile(gather_minus_lse, dynamic=False)
                    fwd_case("torch_compile_gather_minus_lse", compiled)
                fwd_case("torch_cross_entropy_none",
                         lambda z, t: -F.cross_entropy(z, t, reduction="none", ignore_index=IGNORE))

                grads = [torch.randn(N, device="cuda", generator=gen) for _ in range(nsets)]

                def fb_case(impl, fn):
                    def body():
                        leaves = [(z.detach().requires_grad_(True), t, g) for (z, t), g in zip(sets, grads)]

                        def step(s):
                            z, t, g = s
                            z.grad = None
                            fn(z, t).backward(g)
                            return z.grad
                        t = time_calls(step, leaves, repeats=args.repeats)
                        return record("step_logprob", impl, "fwd+bwd", dtype, N, V, None, t, fb_floor, "copy",
                                      elements=N * V, bytes_=3 * nbytes, peak=peak_extra(step, leaves[0]))
                    run_safely(out, "step_logprob", impl, "fwd+bwd", dtype, N, V, None, body)

                fb_case("torch_cross_entropy_none",
                        lambda z, t: -F.cross_entropy(z, t, reduction="none", ignore_index=IGNORE))
                fb_case("torch_eager_gather_minus_lse", gather_minus_lse)

                def copy_body():
                    dst = torch.empty_like(sets[0][0])
                    t = time_calls(lambda s: dst.copy_(s[0]), sets, repeats=args.repeats)
                    return record("step_logprob", "torch_d2d_copy_floor", "n/a", dtype, N, V, None, t,
                                  2 * nbytes / floors["copy"], "copy", elements=N * V, bytes_=2 * nbytes)
                run_safely(out, "step_logprob", "torch_d2d_copy_floor", "n/a", dtype, N, V, None, copy_body)
                del sets, grads
                torch.cuda.empty_cache()


# ---- (a') from hidden -------------------------------------------------------------------------------------------
def bench_hidden(args, out, floors):
    gen = torch.Generator(device="cuda").manual_seed(99)
    dt, dtype = torch.bfloat16, "bfloat16"
    for (N, d, V) in args.hidden_shapes:
        def mk():
            x = torch.randn(N, d, device="cuda", generator=gen).to(dt)
            w = (torch.randn(V, d, device="cuda", generator=gen) * (3.0 / math.sqrt(d))).to(dt)
            return x, w
        try:
            x, w = mk()
            t = torch.randint(0, V, (N,), device="cuda", generator=gen)
            t[~dpo_mask(N, gen)] = IGNORE
            g = torch.randn(N, device="cuda", generator=gen)
        except torch.cuda.OutOfMemoryError as e:
            emit(skipped("step_logprob_hidden", "torch", "fwd", dtype, N, V, d, f"OOM: {e}"), out)
            torch.cuda.empty_cache()
            continue
        f1, f3 = 2 * N * d * V, 6 * N * d * V

        def gemm_fwd():
            tt = time_calls(lambda s: torch.mm(x, w.t()), [None], repeats=args.repeats)
            return record("step_logprob_hidden", "torch_mm_1gemm", "fwd", dtype, N, V, d, tt, f1 / floors["gemm"],
                          "gemm", elements=N * V, flops=f1)
        run_safely(out, "step_logprob_hidden", "torch_mm_1gemm", "fwd", dtype, N, V, d, gemm_fwd)

        def gemm3():
            dz = torch.randn(N, V, device="cuda", generator=gen).to(dt)

            def three(_):
                z = torch.mm(x, w.t())   # logits   [N, V]
                dx = torch.mm(dz, w)     # dX       [N, d]
                dw = torch.mm(dz.t(), x)  # dW      [V, d]
                return z, dx, dw
            tt = time_calls(three, [None], repeats=args.repeats)
            return record("step_logprob_hidden", "torch_mm_3gemms", "fwd+bwd", dtype, N, V, d, tt,
                          f3 / floors["gemm"], "gemm", elements=N * V, flops=f3, note="the target denominator")
        run_safely(out, "step_logprob_hidden", "torch_mm_3gemms", "fwd+bwd", dtype, N, V, d, gemm3)

        def eager_fwd():
            fn = lambda s: gather_minus_lse(x @ w.t(), t)
            tt = time_calls(fn, [None], repeats=args.repeats)
            return record("step_logprob_hidden", "torch_eager", "fwd", dtype, N, V, d, tt, f1 / floors["gemm"],
                          "gemm", elements=N * V, flops=f1, peak=peak_extra(fn, None))
        run_safely(out, "step_logprob_hidden", "torch_eager", "fwd", dtype, N, V, d, eager_fwd)

        def eager_fb():
            xl, wl = x.detach().requires_grad_(True), w.detach().requires_grad_(True)

            def step(_):
                xl.grad = wl.grad = None
                gather_minus_lse(xl @ wl.t(), t).backward(g)
            tt = time_calls(step, [None], repeats=args.repeats)
            return record("step_logprob_hidden", "torch_eager", "fwd+bwd", dtype, N, V, d, tt, f3 / floors["gemm"],
                          "gemm", elements=N * V, flops=f3, peak=peak_extra(step, None))
        run_safely(out, "step_logprob_hidden", "torch_eager", "fwd+bwd", dtype, N, V, d, eager_fb)

        if hasattr(F, "linear_cross_entropy"):
            def lce():
                xl, wl = x.detach().requires_grad_(True), w.detach().requires_grad_(True)

                def step(_):
                    xl.grad = wl.grad = None
                    (-F.linear_cross_entropy(xl, wl, t, reduction="none", ignore_index=IGNORE)).backward(g)
                tt = time_calls(step, [None], repeats=args.repeats)
                return record("step_logprob_hidden", "torch_linear_cross_entropy", "fwd+bwd", dtype, N, V, d, tt,
                              f3 / floors["gemm"], "gemm", elements=N * V, flops=f3, peak=peak_extra(step, None))
            run_safely(out, "step_logprob_hidden", "torch_linear_cross_entropy", "fwd+bwd", dtype, N, V, d, lce)
        else:
            emit(skipped("step_logprob_hidden", "torch_linear_cross_entropy", "fwd+bwd", dtype, N, V, d,
                         f"torch {torch.__version__} has no F.linear_cross_entropy"), out)
        del x, w
        torch.cuda.empty_cache()


# ---- (b), (c) small kernels under graph replay -------------------------------------------------------------------
def reward_weights_torch(r, mask, scale):
    # r, mask: [B, S] padded steps; scale: [B] (+gamma chosen, -gamma rejected); backward with upstream g = r.
    x = (scale[:, None] * r).masked_fill(~mask, float("-inf"))
    w = torch.softmax(x, -1).nan_to_num(0.0)
    dot = (w * r).sum(-1, keepdim=True)
    return w, scale[:, None] * w * (r - dot)


def dpo_torch(pc, pr, rc, rr, m, beta=0.1, eps=0.0):
    h = (pc - rc) - (pr - rr)
    z = beta * h - m
    loss = -(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z)
    gc = beta * (-(1 - eps) * torch.sigmoid(-z) + eps * torch.sigmoid(z))
    cr, rj = beta * (pc - rc), beta * (pr - rr)
    red = torch.stack([loss.mean(), (cr > rj).float().mean(), cr.mean(), rj.mean(), (beta * h).mean()])
    return loss, gc, -gc, red


def bench_small(args, out, floors):
    gen = torch.Generator(device="cuda").manual_seed(7)
    for B, S in args.reward_shapes:
        r = torch.rand(B, S, device="cuda", generator=gen)
        lens = torch.randint(1, S + 1, (B,), device="cuda", generator=gen)
        mask = torch.arange(S, device="cuda")[None, :] < lens[:, None]
        scale = torch.where(torch.arange(B, device="cuda") % 2 == 0, 0.5, -0.5)
        w_ref = torch.softmax((scale[:, None].double() * r.double()).masked_fill(~mask, float("-inf")), -1)
        impls = [("torch_eager_graph", reward_weights_torch)]
        if not args.no_compile:
            impls.append(("torch_compile_graph", torch.compile(reward_weights_torch, dynamic=False)))
        for impl, fn in impls:
            def body():
                err = (fn(r, mask, scale)[0].double() - w_ref.nan_to_num(0)).abs().max().item()
                tt = time_graph(lambda s: fn(*s), (r, mask, scale))
                return record("reward_weights", impl, "fwd+bwd", "float32", B * S, None, None, tt,
                              floors["launch"], "launch", err=err, note=f"{B} segments x {S} steps (padded)")
            run_safely(out, "reward_weights", impl, "fwd+bwd", "float32", B * S, None, None, body)
    for P in args.pairs:
        v = [torch.rand(P, device="cuda", generator=gen) * -300 for _ in range(4)]
        m = torch.rand(P, device="cuda", generator=gen)
        ref = dpo_torch(*[x.double() for x in v], m.double())[0]
        impls = [("torch_eager_graph", dpo_torch)]
        if not args.no_compile:
            impls.append(("torch_compile_graph", torch.compile(dpo_torch, dynamic=False)))
        for impl, fn in impls:
            def body():
                err = (fn(*v, m)[0].double() - ref).abs().max().item()
                tt = time_graph(lambda s: fn(*s), (*v, m))
                return record("dpo_margin", impl, "fwd+bwd", "float32", P, None, None, tt, floors["launch"],
                              "launch", err=err, note=f"{P} pairs, sigmoid, beta=0.1, with reductions")
            run_safely(out, "dpo_margin", impl, "fwd+bwd", "float32", P, None, None, body)


# ---- floors ----------------------------------------------------------------------------------------------------
def measure_floors(out):
    n = 1 << 29  # 2 GiB of fp32 per buffer, far above L2
    a, b = torch.randn(n, device="cuda"), torch.empty(n, device="cuda")
    t = time_calls(lambda _: b.copy_(a), [None], repeats=20)
    copy = 2 * n * 4 / t["seconds"]
    emit(record("floor_device_copy", "torch_copy", "n/a", "float32", None, None, None, t, 2 * n * 4 / copy, "copy",
                bytes_=2 * n * 4, note="2 GiB d2d, read + write counted"), out)
    del a, b
    k = 8192
    x, y = torch.randn(k, k, device="cuda", dtype=torch.bfloat16), torch.randn(k, k, device="cuda", dtype=torch.bfloat16)
    t = time_calls(lambda _: torch.mm(x, y), [None], repeats=20)
    gemm = 2 * k ** 3 / t["seconds"]
    emit(record("floor_gemm", "torch_mm", "n/a", "bfloat16", k, k, k, t, 2 * k ** 3 / gemm, "gemm", flops=2 * k ** 3,
                note="8192^3 bf16, random data"), out)
    del x, y
    one = torch.zeros(1, device="cuda")
    t = time_graph(lambda s: s.add_(1), one, replays=1000)
    emit(record("floor_launch", "graph_replay_1_kernel", "n/a", "float32", 1, None, None, t, t["seconds"], "launch",
                note="one tiny kernel per graph replay"), out)
    torch.cuda.empty_cache()
    return {"copy": copy, "gemm": gemm, "launch": t["seconds"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "bench_kernels_gpu.jsonl"))
    ap.add_argument("--quick", action="store_true", help="small shapes only (a smoke run, minutes)")
    ap.add_argument("--only", choices=["logits", "hidden", "small"], action="append")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_kernels_gpu.py needs a CUDA device")
    try:  # one compiled function meets every shape and dtype: allow that many specialisations
        torch._dynamo.config.cache_size_limit = max(64, torch._dynamo.config.cache_size_limit)
    except AttributeError:
        pass
    args.dtypes = ["bfloat16", "float32"]
    if args.quick:
        args.N, args.V = [4096], [32000]
        args.hidden_shapes = [(4096, 896, 32000)]
        args.reward_shapes, args.pairs = [(1024, 32)], [4096]
        args.repeats = min(args.repeats, 10)
    else:
        args.N, args.V = [4096, 16384], [32000, 151936]
        # (N, d, V): Qwen2.5-0.5B / 7B heads, plus the public anchor (QuACK, Liger) at 4096 x 4096 x 128256.
        args.hidden_shapes = [(4096, 896, 32000), (4096, 896, 151936), (16384, 896, 151936),
                              (16384, 3584, 151936), (4096, 4096, 128256)]
        args.reward_shapes = [(2048, 1), (2048, 8), (2048, 32), (8192, 64)]
        args.pairs = [1024, 4096, 65536]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as out:
        emit({"kernel": "meta", "torch": torch.__version__, "device": torch.cuda.get_device_name(),
              "cuda": torch.version.cuda, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, out)
        floors = measure_floors(out)
        only = set(args.only or ["logits", "hidden", "small"])
        if "logits" in only:
            bench_logits(args, out, floors)
        if "hidden" in only:
            bench_hidden(args, out, floors)
        if "small" in only:
            bench_small(args, out, floors)
    print(f"{'kernel':22} {'impl':34} {'dir':8} {'dtype':9} {'N':>6} {'V':>7} {'d':>5} {'ms':>9} {'floorRatio':>10}",
          file=sys.stderr)
    for r in RECORDS:
        if r.get("kernel") == "meta":
            continue
        ms = f"{r['seconds'] * 1e3:.3f}" if r.get("seconds") else "skip"
        fr = f"{r['floorRatio']:.2f}" if r.get("floorRatio") else "-"
        print(f"{r['kernel']:22} {r['impl']:34} {r['direction']:8} {r['dtype']:9} {str(r['N']):>6} "
              f"{str(r['V']):>7} {str(r['d']):>5} {ms:>9} {fr:>10}", file=sys.stderr)


if __name__ == "__main__":
    main()
