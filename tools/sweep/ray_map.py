"""Map and reduce of a sweep with Ray (for clusters that already run Ray).

    python tools/sweep/ray_map.py 'runs/*/' reports

Each run is one Ray task calling `jepa-doctor analyze RUN --json=reports/NAME.json`; the reduce
step is one `jepa-doctor compare` over the reports. jepa-doctor must be on PATH on every node
(`pip install jepa-doctor` or the release binary), and the run directories and `reports/` on a
shared file system.
"""

import glob
import os
import subprocess
import sys

import ray


@ray.remote(num_cpus=1)
def analyze(run: str, reports: str) -> str:
    name = os.path.basename(run.rstrip("/"))
    if not os.path.isdir(run):  # a log file: drop its extension; directories keep their dots
        name = os.path.splitext(name)[0]
    out = os.path.join(reports, name + ".json")
    subprocess.run(
        ["jepa-doctor", "analyze", run, f"--json={out}", "--fail-on=never", "-q"],
        check=True,
    )
    return out


def main() -> int:
    pattern, reports = sys.argv[1], sys.argv[2]
    os.makedirs(reports, exist_ok=True)
    ray.init()
    runs = sorted(glob.glob(pattern))
    done = ray.get([analyze.remote(run, reports) for run in runs])
    # The reduce step: one table, one ranking; exit status 1 when a run has an error finding.
    return subprocess.run(
        ["jepa-doctor", "compare", *done, "--json=sweep.json", "--markdown=sweep.md"]
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
