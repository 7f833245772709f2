"""Start-up benchmark: `latte --help` against a bare 10-command Typer app's `--help`.

Run by hand with latte installed (not editable: `pip install .`), from any folder:

    python bench/startup.py [--runs 15]

Both are run alternately in the same session and the medians compared; the target is a ratio
of at most 1.3. The CPU seconds (user + system) of each run are shown too: on a shared,
loaded machine they move much less than the wall times.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_APP = (
    """
import typer

app = typer.Typer()

"""
    + "".join(
        f'''
@app.command()
def command{i}(name: str = "x", count: int = 1) -> None:
    """Command number {i}."""
    print(name * count)
'''
        for i in range(10)
    )
    + """

app()
"""
)


def wall(command: list[str]) -> float:
    return run(command)[0]


def run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of the command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    latte = shutil.which("latte", path=str(Path(sys.executable).parent))
    if latte is None:
        sys.exit("latte is not installed next to this Python: pip install . first")
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare.py"
        bare.write_text(BARE_APP)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "bare Typer app --help": [sys.executable, str(bare), "--help"],
            "latte --help": [latte, "--help"],
        }
        for command in commands.values():  # warm the file cache
            wall(command)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                elapsed, cpu = run(command)
                times[name].append(elapsed)
                cpus[name].append(cpu)
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
    for name, value in medians.items():
        print(
            f"{name:24} median {value:.3f} s wall, {cpu_medians[name]:.3f} CPU s "
            f"over {args.runs} runs"
        )
    ratio = medians["latte --help"] / medians["bare Typer app --help"]
    cpu_ratio = cpu_medians["latte --help"] / cpu_medians["bare Typer app --help"]
    # On a loaded machine the wall ratio drifts; the CPU one much less.
    print(f"ratio latte / bare Typer: {ratio:.2f} wall, {cpu_ratio:.2f} CPU (target <= 1.3)")


if __name__ == "__main__":
    main()
