"""Fuzz the image readers with corrupted files: truncated and bit-flipped copies.

    python benchmarks/fuzz_readers.py                      # 2000 cases, summary table
    python benchmarks/fuzz_readers.py --cases 5000 --seed 1 --json fuzz.json

Sources: the real DigitalMicrograph file of ``../shared/data`` (when that folder exists)
and generated TIFF (ImageJ-calibrated), HyperSpy HDF5, NumPy and PNG files.  Each case
corrupts one source: cut at a random length ("truncate"), 1-16 random bits flipped, mostly
in the first 4 KiB where the headers and tag tables are ("flip"), both, or 1-16 bits
flipped in the last 4 KiB, where some formats keep their metadata ("flip-tail": the tags
after the pixel data of a dm3 file, for instance).

Every case must end in one of the library's own outcomes: it reads as a valid image, or
``read_image`` raises a :class:`shiftvae.ShiftVAEError` (ReaderError, InputError...).
Anything else is a failure and is listed: another exception type, a crash of the
interpreter (segmentation fault, abort), or a hang past ``--timeout`` seconds.  Cases run
in a worker process, one at a time; the parent reads a line before and after each case,
so a crash or hang is pinned to its case, the worker is replaced and the run goes on.  The
worker's address space is limited (``--memory-gib``), so a header that claims a huge image
fails as an allocation instead of exhausting the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from shiftvae.io.hdf5_probe import describe_exit

SHARED_DM3 = Path(__file__).resolve().parents[2] / "shared" / "data" / "mos2_se_implanted_adf.dm3"
KINDS = ("truncate", "flip", "flip+truncate", "flip-tail")
HEADER = 4096  # bytes at the start where most structure lives


# --- sources and mutations -----------------------------------------------------------------


def write_sources(folder: Path, dm3: Path | None = SHARED_DM3) -> dict[str, Path]:
    """The files to corrupt: generated ones, and the real dm3 when it is available."""
    import h5py
    import tifffile
    from PIL import Image as PILImage

    import shiftvae as sv

    lattice = sv.synthetic.lattice_image(64, period=8.0, seed=0)
    counts = (lattice * 4000).astype(np.uint16)
    sources = {
        "tif": folder / "source.tif",
        "h5": folder / "source.h5",
        "npy": folder / "source.npy",
        "png": folder / "source.png",
    }
    tifffile.imwrite(
        sources["tif"], counts, imagej=True, resolution=(20.0, 20.0), metadata={"unit": "nm"}
    )
    with h5py.File(sources["h5"], "w") as f:
        exp = f.create_group("Experiments/scan")
        exp["data"] = lattice
        for k in range(2):
            exp.create_group(f"axis-{k}").attrs.update({"scale": 0.05, "units": "nm"})
    np.save(sources["npy"], lattice)
    PILImage.fromarray((lattice * 255).astype(np.uint8)).save(sources["png"])
    if dm3 is not None and dm3.is_file():
        sources["dm3"] = dm3
    return sources


def make_cases(sources: dict[str, Path], n: int, seed: int) -> list[dict]:
    """``n`` case descriptions spread evenly over sources and kinds."""
    rng = random.Random(seed)
    names = sorted(sources)
    return [
        {
            "id": i,
            "source": names[i % len(names)],
            "kind": KINDS[(i // len(names)) % len(KINDS)],
            "seed": rng.getrandbits(32),
        }
        for i in range(n)
    ]


def corrupt(content: bytes, kind: str, seed: int) -> bytes:
    """The corrupted copy of ``content`` for one case (deterministic in ``seed``)."""
    rng = random.Random(seed)
    data = bytearray(content)
    if kind == "flip-tail" and data:
        for _ in range(rng.randint(1, 16)):
            pos = len(data) - 1 - rng.randrange(min(len(data), HEADER))
            data[pos] ^= 1 << rng.randrange(8)
        return bytes(data)
    if "flip" in kind and data:
        for _ in range(rng.randint(1, 16)):
            head = rng.random() < 0.7
            pos = rng.randrange(min(len(data), HEADER) if head else len(data))
            data[pos] ^= 1 << rng.randrange(8)
    if "truncate" in kind and data:
        end = rng.randrange(min(len(data), HEADER)) if rng.random() < 0.5 else None
        data = data[: end if end is not None else rng.randrange(len(data))]
    return bytes(data)


# --- the worker: one case at a time, a line before and after each ---------------------------


def worker(cases_file: Path, start: int, folder: Path, memory_gib: float) -> None:
    import resource

    import shiftvae as sv

    status = Path("/proc/self/status")
    if status.exists():  # room above what is mapped now (torch maps much at import)
        size_kib = next(
            int(line.split()[1]) for line in status.read_text().splitlines() if "VmSize" in line
        )
        limit = size_kib * 1024 + int(memory_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    spec = json.loads(cases_file.read_text())
    contents = {name: Path(path).read_bytes() for name, path in spec["sources"].items()}
    for case in spec["cases"][start:]:
        suffix = Path(spec["sources"][case["source"]]).suffix
        path = folder / f"case{case['id']}{suffix}"
        path.write_bytes(corrupt(contents[case["source"]], case["kind"], case["seed"]))
        print(f"start {case['id']}", flush=True)
        try:
            image = sv.read_image(path)
            ok = image.data.ndim == 2 and image.data.dtype == np.float32
            outcome = "read" if ok else "other:bad-image"
            detail = f"{image.data.shape}"
        except sv.ShiftVAEError as exc:
            outcome, detail = type(exc).__name__, str(exc)
        except BaseException as exc:  # what must not happen: reported, not raised
            outcome, detail = f"other:{type(exc).__name__}", str(exc)
        finally:
            path.unlink(missing_ok=True)
        detail = " ".join(detail.split())[:300]
        print(f"done {case['id']} {outcome} {detail}", flush=True)


# --- the parent: start workers, time each case, replace a worker that dies -------------------


def run_cases(
    sources: dict[str, Path],
    cases: list[dict],
    timeout: float = 20.0,
    memory_gib: float = 4.0,
    progress: bool = False,
) -> dict[int, tuple[str, str]]:
    """Outcome and detail of every case, keyed by case id."""
    results: dict[int, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp)
        spec = folder / "cases.json"
        spec.write_text(
            json.dumps({"sources": {k: str(v) for k, v in sources.items()}, "cases": cases})
        )
        position = 0
        while position < len(cases):
            position = _run_worker(spec, position, cases, folder, timeout, memory_gib, results)
            if progress:
                print(f"  {len(results)}/{len(cases)} cases", file=sys.stderr, flush=True)
    return results


def _run_worker(spec, position, cases, folder, timeout, memory_gib, results) -> int:
    """Run cases from ``position`` until done or the worker fails; returns the next one."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    argv = [sys.executable, __file__, "--worker", str(spec), str(position), str(folder)]
    proc = subprocess.Popen(
        [*argv, str(memory_gib)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    following = position  # index of the case the worker will start next
    started = False  # whether the worker got as far as a first case
    try:
        while following < len(cases):
            wait = timeout if started else 300.0  # the first: importing torch on a busy machine
            if not selector.select(timeout=wait):
                if not started:
                    raise RuntimeError("the fuzz worker did not start")
                results[cases[following]["id"]] = ("hang", f"no answer within {timeout:g} s")
                return following + 1
            line = proc.stdout.readline()
            if not line:  # the worker died: blame the case it was on
                code = proc.wait()
                if not started:
                    raise RuntimeError(f"the fuzz worker exited at start (status {code})")
                name = describe_exit(code)
                results[cases[following]["id"]] = (f"crash:{name}", f"exit status {code}")
                return following + 1
            word, case_id, *rest = line.rstrip("\n").split(" ", 3)
            started = True
            if word == "done":
                results[int(case_id)] = (rest[0], rest[1] if len(rest) > 1 else "")
                following += 1
        proc.wait(timeout=60)
        return following
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        selector.close()
        proc.stdout.close()


def is_failure(outcome: str) -> bool:
    """Anything but a valid image or the library's own error."""
    return outcome.startswith(("other:", "crash:", "hang"))


def summarise(cases: list[dict], results: dict[int, tuple[str, str]]) -> dict:
    """Counts per outcome, per source and kind, and the failing cases."""
    by_case = {c["id"]: c for c in cases}
    overall = Counter(outcome for outcome, _ in results.values())
    table: dict[str, Counter] = {}
    for case_id, (outcome, _) in results.items():
        c = by_case[case_id]
        table.setdefault(f"{c['source']} {c['kind']}", Counter())[outcome] += 1
    failures = [
        {**by_case[i], "outcome": o, "detail": d}
        for i, (o, d) in sorted(results.items())
        if is_failure(o)
    ]
    return {
        "cases": len(results),
        "outcomes": dict(overall.most_common()),
        "failures": len(failures),
        "by_source_and_kind": {k: dict(v) for k, v in sorted(table.items())},
        "failing_cases": failures[:50],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--memory-gib", type=float, default=4.0, help="per worker, above import")
    parser.add_argument("--json", type=Path, help="write the summary here too")
    args = parser.parse_args(argv)

    tic = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-sources-") as tmp:
        sources = write_sources(Path(tmp))
        if "dm3" not in sources:
            print("note: ../shared/data is absent, the real dm3 is not fuzzed", file=sys.stderr)
        cases = make_cases(sources, args.cases, args.seed)
        results = run_cases(sources, cases, args.timeout, args.memory_gib, progress=True)
    summary = summarise(cases, results)
    summary.update(seed=args.seed, timeout_s=args.timeout, wall_s=time.perf_counter() - tic)
    summary["sources"] = {k: Path(v).name for k, v in sources.items()}

    print(f"{summary['cases']} corrupted files in {summary['wall_s']:.0f} s")
    for outcome, count in summary["outcomes"].items():
        print(f"  {outcome:24s} {count:6d}")
    print("by source and kind:")
    for key, counts in summary["by_source_and_kind"].items():
        print(f"  {key:22s} " + ", ".join(f"{o} {n}" for o, n in counts.items()))
    print(f"failures (not a valid image nor a library error): {summary['failures']}")
    for f in summary["failing_cases"][:10]:
        print(f"  case {f['id']} {f['source']} {f['kind']} seed {f['seed']}: {f['outcome']}")
        print(f"    {f['detail']}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        spec_path, first, work, memory = sys.argv[2:6]
        worker(Path(spec_path), int(first), Path(work), float(memory))
    else:
        raise SystemExit(main())
