"""Training speed of shiftvae against pyroVED's iVAE(invariances=['t']), side by side.

Run it in the bench environment built by ``benchmarks/setup_bench_env.sh`` (``make bench``)::

    .venv-bench/bin/python benchmarks/bench_vs_pyroved.py            # full run (minutes)
    .venv-bench/bin/python benchmarks/bench_vs_pyroved.py --quick    # smoke run

This script installs nothing.  Both implementations train in this one process on the same
generated data, with the same architecture (MLP encoder and coordinate decoder, hidden
128-128, tanh, Bernoulli likelihood, l = 2 conventional latents plus the shift, the same
shift scale k: pyroVED's ``dx_prior``), batch size, learning rate (Adam), KL weight
(beta = 1), number of epochs and number of torch threads.  The two alternate within each
round (A B, then B A, ...), so slow phases of a shared machine hit both alike.

Each is used as a new user would use it:

* pyroVED: ``pv.models.iVAE(data_dim, latent_dim=2, invariances=['t'], ...)``,
  ``pv.trainers.SVItrainer(model)``, ``trainer.step(pv.utils.init_dataloader(X))`` per epoch;
* shiftvae: ``sv.ShiftVAE(data_shape)`` trained as by one ``fit(X, epochs=rounds * epochs)``:
  the loop ``fit`` runs (``shiftvae.model.train.train_module``), whose end-of-round hook stops the
  clock and hands over to pyroVED, so the model keeps one optimiser throughout, as pyroVED's.

The KL weight is constant (beta = 1, pyroVED's default ``scale_factor``), the shift scale
k = 0.5 for both.

The networks are identical, parameter for parameter (the script checks the counts):
pyroVED's ``hidden_dim_d=[128]`` is a coordinate layer of 128 and one hidden layer of 128,
which is shiftvae's ``hidden=(128, 128)``; pyroVED's default ``hidden_dim_d=[128, 128]``
adds a second hidden layer, which is shiftvae's ``decoder_hidden=(128, 128, 128)``.
``--arch`` picks either or both ("2-layer", "3-layer": tanh layers in the decoder).  With
``--bf16``, shiftvae also trains with ``fit(precision="bf16")`` in the same alternation.

Reported per data set and implementation: epochs/s and samples/s (wall clock; also CPU time
of the process, which a shared machine disturbs less), the speed ratio shiftvae / pyroVED,
the training loss of the last epoch as each reports it, an evaluation loss computed the same
way for both after training, the shift R^2 (1D), and the achieved GFLOP/s of the useful
matmul work against an fp32 matmul peak measured in the same run.

Loss units: pyro's ``Trace_ELBO`` returns the negative ELBO *summed* over the mini-batch, and
pyroVED's ``SVItrainer`` divides the epoch's sum by the number of samples; shiftvae's
history holds batch means weighted back to a per-sample mean.  Both are therefore the
negative ELBO per sample in nats (pyroVED estimates the KL term by one Monte Carlo sample,
shiftvae in closed form: equal in expectation).

pyroVED imports ``torchvision.utils.make_grid`` for plotting only; the bench environment has a
stand-in torchvision whose ``make_grid`` raises (see ``setup_bench_env.sh``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
HIDDEN = (128, 128)
# decoder depth: pyroVED's hidden_dim_d and the equal shiftvae decoder_hidden
ARCHS = {
    "2-layer": {"pyroved_hidden_d": [128], "decoder_hidden": (128, 128)},
    "3-layer": {"pyroved_hidden_d": [128, 128], "decoder_hidden": (128, 128, 128)},
}
LATENT_DIM = 2
SHIFT_SCALE = 0.5  # k in r + k*dr; pyroVED's dx_prior (and dy_prior) plays the same role
BATCH_SIZE = 100
LR = 1e-3
BETA = 1.0
SETS = ("1d", "2d24", "2d32")


# -- data ----------------------------------------------------------------------------------
@dataclass
class DataSet:
    """One benchmark data set: inputs in [0, 1] and the true shift (1D) if known."""

    name: str
    X: np.ndarray  # (N, *shape) float32
    true_shift: np.ndarray | None
    description: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.X.shape[1:])


def make_data(name: str, quick: bool) -> DataSet:
    """The paper's 1D sine set or 2D lattice patches (window 24 or 32), generated with seed 0."""
    import shiftvae as sv

    if name == "1d":
        n = 1000 if quick else 5000
        X, factors = sv.synthetic.sine_waves(n=n, length=100, seed=0)
        desc = f"sine_waves(n={n}, length=100, seed=0)"
        return DataSet(name, X, factors["mu"], desc)
    if name.startswith("2d"):
        window = int(name[2:])
        n = 500 if quick else 3000
        period = window / 2.4  # 2.4 unit cells per window (period 10 px for 24 px)
        X, _ = sv.synthetic.lattice_patches(n=n, window=window, period=period, seed=0)
        desc = f"lattice_patches(n={n}, window={window}, period={period:.4g}, seed=0)"
        return DataSet(name, X, None, desc)
    raise SystemExit(f"unknown data set {name!r}; choose from {', '.join(SETS)}")


# -- useful work -----------------------------------------------------------------------------
def flops_per_sample(shape: tuple[int, ...], decoder: tuple[int, ...]) -> float:
    """Matmul FLOPs of one training step per sample (forward + backward = 3 x forward).

    Encoder: P*H1 + H1*H2 + H2*2(d+l) multiply-adds.  Coordinate decoder of widths
    (D1, D2, ...), per pixel: d*D1 (coordinates) + D1*D2 + ... (hidden) + Dn (output), plus
    l*D1 per sample for the latents.  One multiply-add = 2 FLOPs; the backward pass is
    counted as twice the forward.  Both implementations get the same count (it is the
    model's work, not either's method).
    """
    p = math.prod(shape)
    d = len(shape)
    h1, h2 = HIDDEN
    enc = p * h1 + h1 * h2 + h2 * 2 * (d + LATENT_DIM)
    hidden = sum(a * b for a, b in itertools.pairwise(decoder))
    dec = p * (d * decoder[0] + hidden + decoder[-1]) + LATENT_DIM * decoder[0]
    return 3 * 2 * (enc + dec)


def n_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def matmul_peak_gflops(n: int, reps: int = 4) -> float:
    """Best fp32 ``torch.mm`` rate (n x n by n x n) with the current thread setting."""
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = math.inf
    for _ in range(reps):
        tic = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - tic)
    return 2 * n**3 / best / 1e9


# -- the two implementations -----------------------------------------------------------------
@dataclass
class Runner:
    """One implementation on one data set: trains round by round and records timings."""

    label: str
    epochs_done: int = 0
    wall: list[float] = field(default_factory=list)  # seconds per round
    cpu: list[float] = field(default_factory=list)  # process CPU seconds per round
    epochs: list[int] = field(default_factory=list)  # epochs per round
    last_loss: float = math.nan

    def run_round(self, epochs: int) -> None:
        """Train ``epochs`` more epochs and record the wall-clock and CPU time."""
        cpu0, tic = time.process_time(), time.perf_counter()
        self.train(epochs)
        self.wall.append(time.perf_counter() - tic)
        self.cpu.append(time.process_time() - cpu0)
        self.epochs.append(epochs)
        self.epochs_done += epochs

    def train(self, epochs: int) -> None:
        raise NotImplementedError

    def eval_loss(self, seed: int = 123) -> float:
        raise NotImplementedError

    def encoded_shift(self) -> np.ndarray:
        raise NotImplementedError


class _RoundOver(Exception):
    """Raised by the epoch hook of :class:`ShiftVAERunner` at the end of a round."""


class ShiftVAERunner(Runner):
    """shiftvae: one training of ``ShiftVAE(...)`` over all rounds, paused between rounds.

    Each round runs the loop ``ShiftVAE.fit`` runs after validating its input
    (``shiftvae.model.train.train_module``) with a checkpoint at every round's end, and the next
    round resumes from it: shiftvae's resume continues bit for bit (its tests check this), so
    the model trains as with one ``fit(X, epochs=rounds * epochs)``, with one optimiser and
    one batch-order stream.  Writing and reading the checkpoint count in the round's time.
    Everything runs in the main thread: a worker thread made bf16 training about 1.5 times
    slower here (oneDNN and OpenMP state are per thread).
    """

    def __init__(
        self,
        data: DataSet,
        rounds: int,
        epochs: int,
        decoder_hidden: tuple[int, ...],
        work_dir: Path,
        precision: str = "fp32",
        label: str = "shiftvae",
    ):
        import shiftvae as sv

        super().__init__(label)
        self.data = data
        self.tensor = torch.as_tensor(data.X)
        self.precision = precision
        self.total_epochs = rounds * epochs
        self.round_epochs = epochs
        self.checkpoint = work_dir / f"{label}.pt"
        self.model = sv.ShiftVAE(
            data_shape=data.shape,
            latent_dim=LATENT_DIM,
            shift=True,
            shift_scale=SHIFT_SCALE,
            likelihood="bernoulli",
            hidden=HIDDEN,
            decoder_hidden=decoder_hidden,
            seed=0,
        )

    def _hook(self, epoch: int, history) -> None:
        if (epoch + 1) % self.round_epochs == 0 and epoch + 1 < self.total_epochs:
            raise _RoundOver

    def train(self, epochs: int) -> None:
        from shiftvae.model.train import BetaSchedule, TrainOptions, train_module

        assert epochs == self.round_epochs
        options = TrainOptions(
            epochs=self.total_epochs,
            batch_size=BATCH_SIZE,
            lr=LR,
            beta=BetaSchedule(BETA, BETA),
            seed=0,
            progress=False,
            on_epoch_end=self._hook,
            checkpoint_path=self.checkpoint,
            checkpoint_every=self.round_epochs,
            resume=True,
            precision=self.precision,
        )
        history = self.model.history_
        with contextlib.suppress(_RoundOver):
            train_module(self.model.module_, self.tensor, options, history)
        self.last_loss = float(history.loss[-1])

    @torch.no_grad()
    def eval_loss(self, seed: int = 123) -> float:
        """Negative ELBO per sample (beta = 1) on all the data, one latent sample each."""
        module = self.model.module_
        torch.manual_seed(seed)
        X = torch.as_tensor(self.data.X)
        total = 0.0
        for start in range(0, len(X), 250):
            x = X[start : start + 250]
            total += float(module.loss(x, BETA).loss) * len(x)
        return total / len(X)

    def encoded_shift(self) -> np.ndarray:
        return self.model.encode(self.data.X).shift_mean[:, 0]


class PyroVEDRunner(Runner):
    """pyroVED: ``iVAE(invariances=['t'])`` trained by ``SVItrainer.step`` once per epoch."""

    def __init__(self, data: DataSet, hidden_d: list[int]):
        import pyroved as pv

        super().__init__("pyroVED")
        self.data = data
        self.X = torch.as_tensor(data.X)
        prior = {"dx_prior": SHIFT_SCALE}
        if len(data.shape) == 2:
            prior["dy_prior"] = SHIFT_SCALE
        self.model = pv.models.iVAE(
            data.shape,
            latent_dim=LATENT_DIM,
            invariances=["t"],
            hidden_dim_e=list(HIDDEN),
            hidden_dim_d=list(hidden_d),
            activation="tanh",
            sampler_d="bernoulli",
            seed=0,
            device="cpu",
            **prior,
        )
        self.trainer = pv.trainers.SVItrainer(self.model, lr=LR, seed=0, device="cpu")
        self.loader = pv.utils.init_dataloader(self.X, batch_size=BATCH_SIZE)

    def train(self, epochs: int) -> None:
        for _ in range(epochs):
            self.trainer.step(self.loader, scale_factor=BETA)
        self.last_loss = float(self.trainer.loss_history["training_loss"][-1])

    @torch.no_grad()
    def eval_loss(self, seed: int = 123) -> float:
        """Negative ELBO per sample (beta = 1) by pyro's Trace_ELBO, summed over batches."""
        import pyro

        torch.manual_seed(seed)
        elbo = pyro.infer.Trace_ELBO()
        total = 0.0
        for start in range(0, len(self.X), 250):
            x = self.X[start : start + 250]
            total += float(elbo.loss(self.model.model, self.model.guide, x))
        return total / len(self.X)

    def encoded_shift(self) -> np.ndarray:
        z_loc, _ = self.model.encode(self.X)
        return z_loc[:, 0].numpy()  # pyroVED: the first latent is the shift


def warm_up(shape: tuple[int, ...], X: np.ndarray, precisions: list[str]) -> None:
    """One short training of throw-away models, so first-call costs are not timed."""
    import pyroved as pv

    import shiftvae as sv

    small = X[: 2 * BATCH_SIZE]
    for precision in precisions:
        sv.ShiftVAE(shape, hidden=HIDDEN, seed=1).fit(
            small, epochs=1, progress=False, device="cpu", precision=precision
        )
    model = pv.models.iVAE(shape, latent_dim=LATENT_DIM, invariances=["t"], device="cpu")
    trainer = pv.trainers.SVItrainer(model, device="cpu")
    trainer.step(pv.utils.init_dataloader(torch.as_tensor(small), batch_size=BATCH_SIZE))


# -- one data set ----------------------------------------------------------------------------
def bench_set(data: DataSet, arch: str, args, peak_n: int) -> dict:
    """Alternate the implementations over ``args.rounds`` rounds on one data set.

    Round r runs the implementations in one order for even r and in the reverse order for
    odd r (A B C, C B A, ...), each for ``args.epochs`` epochs; the fp32 matmul peak is
    measured at the start of every round.
    """
    spec = ARCHS[arch]
    precisions = ["fp32", "bf16"] if args.bf16 else ["fp32"]
    warm_up(data.shape, data.X, precisions)
    pyroved = PyroVEDRunner(data, spec["pyroved_hidden_d"])
    runners: list[Runner] = [pyroved]
    work_dir = Path(tempfile.mkdtemp(prefix="bench-shiftvae-"))
    for precision in precisions:
        label = "shiftvae" if precision == "fp32" else f"shiftvae-{precision}"
        runners.append(
            ShiftVAERunner(
                data, args.rounds, args.epochs, spec["decoder_hidden"], work_dir, precision, label
            )
        )
    counts = {r.label: n_parameters(getattr(r.model, "module_", r.model)) for r in runners}
    if len(set(counts.values())) != 1:
        raise SystemExit(f"the networks differ: parameter counts {counts}")
    peaks: list[float] = []
    loads: list[float | None] = []
    orders = []
    for r in range(args.rounds):
        peaks.append(matmul_peak_gflops(peak_n))
        loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
        order = runners if r % 2 == 0 else runners[::-1]
        orders.append([runner.label for runner in order])
        for runner in order:
            runner.run_round(args.epochs)
            print(
                f"  [{data.name} {arch}] round {r + 1}/{args.rounds} {runner.label:>14}: "
                f"{runner.wall[-1] / args.epochs:7.2f} s/epoch  loss {runner.last_loss:8.3f}",
                flush=True,
            )
    shutil.rmtree(work_dir, ignore_errors=True)
    flops_epoch = flops_per_sample(data.shape, spec["decoder_hidden"]) * len(data.X)
    peak = max(peaks)
    out = {
        "data": data.description,
        "arch": arch,
        "pyroved_hidden_dim_d": spec["pyroved_hidden_d"],
        "shiftvae_decoder_hidden": list(spec["decoder_hidden"]),
        "parameters": counts[pyroved.label],
        "n": len(data.X),
        "shape": list(data.shape),
        "flops_per_epoch": flops_epoch,
        "matmul_peak_gflops": {"best": peak, "per_round": peaks, "n": peak_n},
        "load_average_1min_per_round": loads,
        "round_order": orders,
        "implementations": {},
    }
    for runner in runners:
        n_ep = sum(runner.epochs)
        eps = n_ep / sum(runner.wall)
        eps_cpu = n_ep / sum(runner.cpu)
        r2 = None
        if data.true_shift is not None:
            from shiftvae.analysis.recovery import shift_recovery

            r2 = shift_recovery(runner.encoded_shift(), data.true_shift).r2
        out["implementations"][runner.label] = {
            "epochs": n_ep,
            "seconds_per_round": runner.wall,
            "cpu_seconds_per_round": runner.cpu,
            "epochs_per_round": runner.epochs,
            "epochs_per_s": eps,
            "samples_per_s": eps * len(data.X),
            "epochs_per_cpu_s": eps_cpu,
            "train_loss_last_epoch": runner.last_loss,
            "eval_loss": runner.eval_loss(),
            "shift_r2": r2,
            "gflops": flops_epoch * eps / 1e9,
            "percent_of_peak": 100 * flops_epoch * eps / 1e9 / peak,
        }
    base = out["implementations"]["pyroVED"]
    ref = pyroved
    for runner in runners[1:]:
        res = out["implementations"][runner.label]
        per_round = [
            (ref.wall[i] / ref.epochs[i]) / (runner.wall[i] / runner.epochs[i])
            for i in range(args.rounds)
        ]
        res["ratio_vs_pyroved"] = res["epochs_per_s"] / base["epochs_per_s"]
        res["ratio_vs_pyroved_cpu_time"] = res["epochs_per_cpu_s"] / base["epochs_per_cpu_s"]
        res["ratio_vs_pyroved_per_round"] = per_round
    return out


# -- report ----------------------------------------------------------------------------------
def format_table(results: dict) -> str:
    """A plain-text table of all data sets and implementations."""
    head = (
        f"{'set':<9} {'implementation':<14} {'epochs':>6} {'epochs/s':>9} {'samples/s':>10} "
        f"{'ratio':>6} {'ratio(cpu)':>10} {'rounds min-max':>15} {'train loss':>10} "
        f"{'eval loss':>9} {'shift R2':>8} {'GFLOP/s':>8} {'% peak':>7}"
    )
    lines = [head, "-" * len(head)]
    for key, res in results["sets"].items():
        name = key.replace(" ", ":").replace("-layer", "L")
        for label, r in res["implementations"].items():
            ratio, ratio_cpu, spread = "1", "1", ""
            if "ratio_vs_pyroved" in r:
                per_round = r["ratio_vs_pyroved_per_round"]
                ratio = f"{r['ratio_vs_pyroved']:.2f}x"
                ratio_cpu = f"{r['ratio_vs_pyroved_cpu_time']:.2f}x"
                spread = f"{min(per_round):.2f}-{max(per_round):.2f}x"
            r2 = "n/a" if r["shift_r2"] is None else f"{r['shift_r2']:.3f}"
            lines.append(
                f"{name:<9} {label:<14} {r['epochs']:>6d} {r['epochs_per_s']:>9.3f} "
                f"{r['samples_per_s']:>10.0f} {ratio:>6} {ratio_cpu:>10} {spread:>15} "
                f"{r['train_loss_last_epoch']:>10.3f} {r['eval_loss']:>9.3f} {r2:>8} "
                f"{r['gflops']:>8.1f} {r['percent_of_peak']:>6.1f}%"
            )
        peak = res["matmul_peak_gflops"]
        lines.append(
            f"{'':<9} fp32 matmul peak ({peak['n']}^3, {results['threads']} threads): best "
            f"{peak['best']:.1f} GFLOP/s, per round "
            + ", ".join(f"{p:.0f}" for p in peak["per_round"])
        )
    return "\n".join(lines)


def environment(args) -> dict:
    """Versions, threads and machine load, for the record."""
    import pyro
    import pyroved
    import torchvision

    import shiftvae

    stub = bool(getattr(torchvision, "IS_SHIFTVAE_BENCH_STUB", False))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pyro": pyro.__version__,
        "pyroved": pyroved.__version__,
        "shiftvae": shiftvae.__version__,
        "torchvision": (
            "stand-in from benchmarks/torchvision_stub (make_grid raises; plots only)"
            if stub
            else torchvision.__version__
        ),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "load_average_at_start": list(load) if load else None,
        "quick": args.quick,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, 1 epoch per round")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per round (2)")
    parser.add_argument("--rounds", type=int, default=None, help="alternations (3; quick 2)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma list of " + ",".join(SETS))
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument("--arch", default=",".join(ARCHS), help="comma list of " + ",".join(ARCHS))
    parser.add_argument(
        "--bf16", action="store_true", help="also shiftvae with fit(precision='bf16')"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    args.epochs = args.epochs or (1 if args.quick else 2)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    args.arch = [a.strip() for a in args.arch.split(",") if a.strip()]
    unknown = [a for a in args.arch if a not in ARCHS]
    if unknown:
        parser.error(f"unknown --arch {unknown}; choose from {', '.join(ARCHS)}")
    if args.out is None:
        name = "bench_vs_pyroved_quick.json" if args.quick else "bench_vs_pyroved.json"
        args.out = HERE / "results" / name
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    with contextlib.redirect_stdout(io.StringIO()):  # silence import-time chatter
        import pyroved  # noqa: F401  (fails here, not midway, if the env is wrong)
    env = environment(args)
    print(
        f"shiftvae {env['shiftvae']} vs pyroVED {env['pyroved']} (pyro {env['pyro']}), "
        f"torch {env['torch']}, {args.threads} threads, {args.rounds} rounds x "
        f"{args.epochs} epochs, batch {BATCH_SIZE}, lr {LR:g}, beta {BETA:g}, "
        f"hidden {HIDDEN}, l={LATENT_DIM}, k={SHIFT_SCALE}"
    )
    print(f"torchvision: {env['torchvision']}")
    if env["load_average_at_start"] and env["load_average_at_start"][0] > 0.5 * (
        os.cpu_count() or 1
    ):
        print(
            f"note: load average {env['load_average_at_start'][0]:.1f} on "
            f"{os.cpu_count()} CPUs: other jobs share this machine; wall-clock numbers are "
            "noisy (the alternation shares the noise; see also the CPU-time ratio)"
        )
    peak_n = 1024 if args.quick else 2048
    results = {
        "config": {
            "hidden": list(HIDDEN),
            "archs": {a: ARCHS[a] for a in args.arch},
            "bf16": args.bf16,
            "latent_dim": LATENT_DIM,
            "shift_scale_k": SHIFT_SCALE,
            "batch_size": BATCH_SIZE,
            "lr": LR,
            "beta": BETA,
            "epochs_per_round": args.epochs,
            "rounds": args.rounds,
            "loss_units": "negative ELBO per sample, nats (beta = 1)",
            "flops": "useful matmul FLOPs (encoder + coordinate decoder), x3 for fwd+bwd",
        },
        "environment": env,
        "threads": args.threads,
        "sets": {},
    }
    tic = time.perf_counter()
    for name in args.sets:
        data = make_data(name, args.quick)
        for arch in args.arch:
            print(f"{name} {arch}: {data.description}, shape {data.shape}", flush=True)
            results["sets"][f"{name} {arch}"] = bench_set(data, arch, args, peak_n)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    results["environment"]["load_average_at_end"] = list(load) if load else None
    results["environment"]["total_seconds"] = time.perf_counter() - tic
    table = format_table(results)
    print()
    print(table)
    for label in ("shiftvae", "shiftvae-bf16"):
        ratios = [
            res["implementations"][label]["ratio_vs_pyroved"]
            for res in results["sets"].values()
            if label in res["implementations"]
        ]
        if ratios:
            print(
                f"{label} / pyroVED speed: median {statistics.median(ratios):.2f}x, "
                f"min {min(ratios):.2f}x over {len(ratios)} sets"
            )
    results["table"] = table
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    shown = args.out.relative_to(Path.cwd()) if args.out.is_relative_to(Path.cwd()) else args.out
    print(f"results written to {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
