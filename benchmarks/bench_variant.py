"""Where one exam variant's time goes: CPU milliseconds per variant of each part.

bench_table.py says how long an extra variant takes; this says which part of making
it costs what, in one process (no imports, templates compiled), so that a change to
one part can be measured on its own:

    python benchmarks/bench_variant.py                         # q2-exam, 40 variants
    python benchmarks/bench_variant.py problems/cnn-exam.yaml -n 10
    python benchmarks/bench_variant.py --rounds 5              # the median of 5 rounds
    python benchmarks/bench_variant.py --checkout /old/derive  # another checkout's code

Parts: drawing and solving a variant (exam_variants: draws, both evaluations, the
document model), the diagram's layout, each document rendered, spec.yaml. Each round
starts from empty layout caches, as a new `derive exam` does.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def clear_layouts() -> None:
    """Forget every layout and everything kept to make one, as at the start of a new run."""
    from derive import diagram

    if hasattr(diagram, "clear_caches"):
        diagram.clear_caches()
        return
    # a checkout from before clear_caches(): its stores one by one (the oldest has none)
    diagram.lay_out.cache_clear()
    getattr(diagram, "MEASURED", {}).clear()
    for name in ("along", "path_cells", "text_size"):
        if hasattr(getattr(diagram, name, None), "cache_clear"):
            getattr(diagram, name).cache_clear()


def one_round(spec: Path, count: int, seed: int) -> dict[str, float]:
    """CPU milliseconds per variant of each part, for one exam of `count` variants."""
    from derive.exam import COMBINED, exam_template, exam_variants, variant_spec
    from derive.render import render

    template = exam_template(spec)
    clear_layouts()
    start = time.process_time()
    variants = list(exam_variants(template, count, seed))
    parts = {"draw and solve": time.process_time() - start}
    start = time.process_time()
    for variant in variants:
        if variant.solution.given.diagram is not None:
            variant.solution.given.diagram.layout  # noqa: B018 (lays the picture out)
    parts["diagram layout"] = time.process_time() - start
    for kind, stem in COMBINED:
        for fmt in ("tex", "md"):
            start = time.process_time()
            for variant in variants:
                render(variant.solution, fmt, 4, kind)
            parts[f"{stem}.{fmt}"] = time.process_time() - start
    start = time.process_time()
    for variant in variants:
        render(variant.solution, "json", 4)
    parts["key.json"] = time.process_time() - start
    start = time.process_time()
    for variant in variants:
        variant_spec(variant, 4)
    parts["spec.yaml"] = time.process_time() - start
    return {name: seconds * 1000 / count for name, seconds in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(ROOT / "problems" / "q2-exam.yaml"))
    parser.add_argument("-n", "--variants", type=int, default=40)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checkout", default=str(ROOT), help="the derive checkout to measure")
    args = parser.parse_args()
    sys.path.insert(0, args.checkout)
    one_round(Path(args.spec), 2, args.seed + 1)  # templates compiled, SymPy's caches warm
    rounds = [one_round(Path(args.spec), args.variants, args.seed) for _ in range(args.rounds)]
    print(f"{args.spec}: CPU ms per variant, median of {args.rounds} rounds of {args.variants} variants")
    for name in rounds[0]:
        print(f"  {name:<16}{statistics.median(r[name] for r in rounds):8.2f}")
    print(f"  {'total':<16}{statistics.median(sum(r.values()) for r in rounds):8.2f}")


if __name__ == "__main__":
    main()
