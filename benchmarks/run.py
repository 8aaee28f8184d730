"""The scale benchmarks: import, check, holders and expiries at 10k, 100k and 1M grants.

For each size it generates a catalogue (benchmarks/generate.py), imports it into a fresh
SQLite ledger through the CLI, then measures, each in a process of its own so that its
peak RSS is its own:

- import throughput (`rights-ledger import FILE --owner OWNER`), wall and CPU time;
- in-process conflict-check latency, p50 and p99 over a few hundred proposals;
- `holders` for CN across all titles, and `expiries` over 90 days, in process;
- whole-process `rights-ledger check`, `holders` and `expiries`, beside the floor
  `python -c "import sqlalchemy.orm"` timed in the same run.

Data and ledgers go under --workdir (default /tmp/rights-ledger-bench), never the repo.

    python benchmarks/run.py                      # 10k, 100k and 1M
    python benchmarks/run.py --sizes 10000 100000 # a quicker run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("rights-ledger"))
OWNER = "northstar-studios"
AS_OF = date(2026, 7, 1)
MIB = 1024 * 1024
HEAVY = 1000
"""Grants a title in the catalogue of fewer, bigger titles."""


# Each command runs as an installed tool does, with Python's compiled bytecode cached:
# a shell that sets PYTHONDONTWRITEBYTECODE would make every run compile the project's
# modules again, which no user pays (the floor's SQLAlchemy has its bytecode either way).
AS_INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mib: float
    code: int
    stdout: str
    stderr: str


def run(args: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command; its own wall time, CPU time and peak RSS (from wait4)."""
    started = time.perf_counter()
    with open(os.devnull, "rb") as stdin:
        process = subprocess.Popen(
            args,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**AS_INSTALLED, **(env or {})},
            cwd=ROOT,
        )
    # Read the pipes ourselves, then reap with wait4 to get the child's own rusage.
    out, err = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        process.returncode,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
    )


def best_of(args: list[str], times: int) -> tuple[float, Run]:
    """The median wall time of `times` runs, and the last run."""
    runs = [run(args) for _ in range(times)]
    return statistics.median(r.wall for r in runs), runs[-1]


# -- in-process measurements (run in a child: `run.py --in-process URL TITLES`) ---------


def in_process(url: str, titles: int, samples: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from ledger.domain.grants import GrantSpec
    from ledger.domain.rights import parse_rights
    from ledger.domain.territories import parse_territory
    from ledger.persistence.database import make_engine
    from ledger.services.ledger import Ledger
    from ledger.services.queries import Period, expiring, who_holds

    ledger = Ledger(make_engine(url), actor="bench")
    rng = random.Random(7)
    exclusivities = ["exclusive", "sole", "non-exclusive"]
    proposals = []
    for n in range(samples):
        year = rng.randint(2012, 2030)
        proposals.append(
            GrantSpec(
                agreement="BENCH-DEAL",
                title=f"title-{rng.randrange(titles):06d}",
                grantor=OWNER,
                grantee=f"bench-licensee-{n % 7}",
                rights=parse_rights(rng.choice(["svod", "pay-tv", "est", "theatrical", "avod"])),
                territory=parse_territory(rng.choice(["CN", "KR", "WW -CN", "FR", "EU"])),
                start=date(year, 1, 1),
                end=date(year + rng.randint(0, 4), 12, 31),
                exclusivity=rng.choice(exclusivities),  # type: ignore[arg-type]
            )
        )
    ledger.check(proposals[:5])  # warm the caches and the connection pool
    latencies = []
    blocked = 0
    for spec in proposals:
        started = time.perf_counter()
        result = ledger.check([spec])
        latencies.append(time.perf_counter() - started)
        blocked += not result.clear
    latencies.sort()

    cn = parse_territory("CN")
    with ledger.engine.connect() as conn:
        holders_times, expiry_times = [], []
        for _ in range(3):
            started = time.perf_counter()
            holdings = who_holds(conn, cn, Period(AS_OF, AS_OF))
            holders_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            expiries = expiring(conn, AS_OF, 90)
            expiry_times.append(time.perf_counter() - started)
    return {
        "check_p50_ms": 1000 * latencies[len(latencies) // 2],
        "check_p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "check_blocked": blocked,
        "check_samples": len(latencies),
        "holders_ms": 1000 * statistics.median(holders_times),
        "holders_rows": len(holdings),
        "expiries_ms": 1000 * statistics.median(expiry_times),
        "expiries_rows": len(expiries),
    }


# -- one size ------------------------------------------------------------------------------


def generated(catalogue: Path, size: int, *options: str) -> Path:
    """The catalogue of `size` grants (`generate.py` with `options`), made once."""
    if not catalogue.exists():
        made = run(
            [PYTHON, str(HERE / "generate.py"), "--grants", str(size), *options,
             "--output", str(catalogue)]
        )  # fmt: skip
        if made.code:
            raise SystemExit(made.stderr)
    return catalogue


def import_into(database: Path, catalogue: Path) -> Run:
    """`catalogue` imported through the CLI into a fresh SQLite ledger at `database`."""
    remove_ledger(database)
    base = [CLI, "--db", f"sqlite:///{database}"]
    run([*base, "db", "upgrade"])
    imported = run([*base, "import", str(catalogue), "--owner", OWNER])
    if imported.code:
        raise SystemExit(f"import of {catalogue} failed:\n{imported.stderr[-3000:]}")
    return imported


def probed(url: str, titles: int, samples: int) -> tuple[dict[str, Any], Run]:
    """The in-process measurements of the ledger at `url`, from a process of their own
    (`in_process`), and that process's run."""
    probe = run([PYTHON, __file__, "--in-process", url, str(titles), "--samples", str(samples)])
    if probe.code:
        raise SystemExit(probe.stderr)
    return json.loads(probe.stdout), probe


def remove_ledger(database: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def measure(size: int, workdir: Path, samples: int, repeats: int) -> dict[str, Any]:
    titles = max(1, size // 100)
    catalogue = generated(workdir / f"catalogue-{size}.csv", size)
    database = workdir / f"ledger-{size}.db"
    imported = import_into(database, catalogue)
    print(f"  {size}: imported in {imported.wall:.1f} s", file=sys.stderr)
    url = f"sqlite:///{database}"
    base = [CLI, "--db", url]

    inner, probe = probed(url, titles, samples)

    floor, _ = best_of([PYTHON, "-c", "import sqlalchemy.orm"], repeats)
    title = f"title-{titles // 2:06d}"
    check_args = [
        *base,
        "check",
        "--title",
        title,
        "--grantor",
        OWNER,
        "--grantee",
        "bench-licensee",
        "--rights",
        "svod",
        "--territory",
        "CN",
        "--start",
        "2027-01-01",
        "--term",
        "2y",
        "--exclusivity",
        "exclusive",
    ]
    check_wall, check_run = best_of(check_args, repeats)
    holders_wall, holders_run = best_of(
        [*base, "holders", "--territory", "CN", "--on", AS_OF.isoformat(), "--format", "csv"],
        repeats,
    )
    expiries_wall, expiries_run = best_of(
        [*base, "expiries", "--within", "90d", "--as-of", AS_OF.isoformat(), "--format", "csv"],
        repeats,
    )
    # The same catalogue, every line in random order, into a ledger of its own (removed).
    shuffled_database = workdir / f"ledger-{size}-shuffled.db"
    shuffled = import_into(
        shuffled_database, generated(workdir / f"catalogue-{size}-shuffled.csv", size, "--shuffle")
    )
    remove_ledger(shuffled_database)
    # Fewer, bigger titles: 1,000 grants each, into a ledger of its own (removed), and
    # the in-process check on it.
    heavy_titles = max(1, size // HEAVY)
    heavy_database = workdir / f"ledger-{size}-heavy.db"
    heavy = import_into(
        heavy_database,
        generated(workdir / f"catalogue-{size}-heavy.csv", size, "--titles", str(heavy_titles)),
    )
    heavy_inner, _ = probed(f"sqlite:///{heavy_database}", heavy_titles, samples)
    remove_ledger(heavy_database)
    # An agreement a grant, ends as terms: a contracts system's export (removed).
    deals_database = workdir / f"ledger-{size}-deals.db"
    deals = import_into(
        deals_database,
        generated(workdir / f"catalogue-{size}-deals.csv", size, "--deal-per-grant", "--terms"),
    )
    remove_ledger(deals_database)
    return {
        "deals_rate": size / deals.wall,
        "deals_rss": deals.rss_mib,
        "heavy_rate": size / heavy.wall,
        "heavy_rss": heavy.rss_mib,
        "heavy_check_p50_ms": heavy_inner["check_p50_ms"],
        "heavy_check_p99_ms": heavy_inner["check_p99_ms"],
        "grants": size,
        "titles": titles,
        "shuffled_rate": size / shuffled.wall,
        "shuffled_rss": shuffled.rss_mib,
        "db_mib": database.stat().st_size / MIB,
        "import_s": imported.wall,
        "import_cpu_s": imported.cpu,
        "import_rate": size / imported.wall,
        "import_cpu_rate": size / imported.cpu,
        "import_rss": imported.rss_mib,
        **inner,
        "probe_rss": probe.rss_mib,
        "floor_s": floor,
        "check_cli_s": check_wall,
        "check_cli_rss": check_run.rss_mib,
        "check_cli_ratio": check_wall / floor,
        "holders_cli_s": holders_wall,
        "holders_cli_rss": holders_run.rss_mib,
        "expiries_cli_s": expiries_wall,
        "expiries_cli_rss": expiries_run.rss_mib,
    }


ROWS = (
    ("import throughput (grants/s, wall)", "import_rate", "{:,.0f}"),
    ("import throughput (grants/s, CPU)", "import_cpu_rate", "{:,.0f}"),
    ("import wall time (s)", "import_s", "{:.1f}"),
    ("import peak RSS (MiB)", "import_rss", "{:.0f}"),
    ("import, lines shuffled (grants/s, wall)", "shuffled_rate", "{:,.0f}"),
    ("  peak RSS (MiB)", "shuffled_rss", "{:.0f}"),
    ("import, 1,000 grants a title (grants/s, wall)", "heavy_rate", "{:,.0f}"),
    ("  peak RSS (MiB)", "heavy_rss", "{:.0f}"),
    ("  check in-process p50 (ms)", "heavy_check_p50_ms", "{:.2f}"),
    ("  check in-process p99 (ms)", "heavy_check_p99_ms", "{:.2f}"),
    ("import, an agreement a grant, terms (grants/s, wall)", "deals_rate", "{:,.0f}"),
    ("  peak RSS (MiB)", "deals_rss", "{:.0f}"),
    ("check in-process p50 (ms)", "check_p50_ms", "{:.2f}"),
    ("check in-process p99 (ms)", "check_p99_ms", "{:.2f}"),
    ("holders CN, all titles, in-process (ms)", "holders_ms", "{:.0f}"),
    ("  rows returned", "holders_rows", "{:,}"),
    ("expiries 90 days, in-process (ms)", "expiries_ms", "{:.0f}"),
    ("  rows returned", "expiries_rows", "{:,}"),
    ("in-process probe peak RSS (MiB)", "probe_rss", "{:.0f}"),
    ("floor: python -c 'import sqlalchemy.orm' (s)", "floor_s", "{:.3f}"),
    ("`rights-ledger check` whole process (s)", "check_cli_s", "{:.3f}"),
    ("  ratio to the floor", "check_cli_ratio", "{:.2f}x"),
    ("  peak RSS (MiB)", "check_cli_rss", "{:.0f}"),
    ("`rights-ledger holders` CN whole process (s)", "holders_cli_s", "{:.3f}"),
    ("  peak RSS (MiB)", "holders_cli_rss", "{:.0f}"),
    ("`rights-ledger expiries` whole process (s)", "expiries_cli_s", "{:.3f}"),
    ("  peak RSS (MiB)", "expiries_cli_rss", "{:.0f}"),
    ("ledger file (MiB)", "db_mib", "{:.0f}"),
)


def table(results: list[dict[str, Any]]) -> str:
    header = ["measure", *(f"{r['grants']:,} grants" for r in results)]
    lines = [header]
    for label, key, fmt in ROWS:
        lines.append([label, *(fmt.format(r[key]) for r in results)])
    if len(results) > 1 and results[0]["grants"] == 10_000:
        base = results[0]["check_p50_ms"]
        lines.append(["check p50 vs 10k", *(f"{r['check_p50_ms'] / base:.2f}x" for r in results)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = (c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(line))
        out.append("| " + " | ".join(cells) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rights-ledger-bench"))
    parser.add_argument("--samples", type=int, default=300, help="proposals timed in process")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each whole-process command")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--in-process", nargs=2, metavar=("URL", "TITLES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_process:
        url, titles = args.in_process
        print(json.dumps(in_process(url, int(titles), args.samples)))
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        results.append(measure(size, args.workdir, args.samples, args.repeats))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    print(
        f"rights-ledger benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
