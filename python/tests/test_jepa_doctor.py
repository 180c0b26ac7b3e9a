"""The installed package: the binary on PATH in the environment, and the Python API on the
repository's fixtures. Run with the environment's Python (no pytest needed):

    python -m unittest discover -s python/tests -v
"""

import os
import subprocess
import sys
import sysconfig
import tempfile
import unittest
from pathlib import Path

import jepa_doctor

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def has_subcommand(name: str) -> bool:
    probe = subprocess.run(
        [jepa_doctor.find_jepa_doctor_bin(), name, "--help"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return probe.returncode == 0


class InstalledBinary(unittest.TestCase):
    def test_the_binary_is_in_this_environment(self):
        binary = Path(jepa_doctor.find_jepa_doctor_bin())
        self.assertEqual(binary.parent, Path(sysconfig.get_path("scripts")))
        out = subprocess.run([str(binary), "--version"], stdout=subprocess.PIPE, check=True)
        self.assertRegex(out.stdout.decode(), r"^jepa-doctor \d+\.\d+\.\d+")

    def test_python_dash_m_runs_the_cli(self):
        out = subprocess.run(
            [sys.executable, "-m", "jepa_doctor", "--version"], stdout=subprocess.PIPE, check=True
        )
        self.assertTrue(out.stdout.decode().startswith("jepa-doctor "))


class Analyze(unittest.TestCase):
    def test_a_run_directory_gives_the_json_contract(self):
        report = jepa_doctor.analyze(FIXTURES / "samples" / "recipe")
        self.assertEqual(report["schema_version"], 1)
        self.assertEqual(report["tool"]["name"], "jepa-doctor")
        self.assertEqual(report["input"]["rows_read"], 798)
        self.assertEqual(report["input"]["restarts"], 1)
        self.assertIn(report["verdict"], {"healthy", "rebound"})
        self.assertIn("detected", report["rebound"])

    def test_options_are_the_flags(self):
        run = FIXTURES / "synthetic" / "rebound_reg_falling"
        default = jepa_doctor.analyze(run)
        gated = jepa_doctor.analyze(run, fail_on="warning")
        self.assertEqual(default["verdict"], "rebound")
        self.assertEqual(default["exit_code"], 0)
        self.assertEqual(gated["exit_code"], 1)
        self.assertEqual(jepa_doctor.analyze(run, jepa_col="loss")["rebound"]["series"], "loss")
        with tempfile.TemporaryDirectory() as tmp:
            figure = Path(tmp) / "report.png"
            jepa_doctor.analyze(str(run / "jepa_r0.csv"), plot=figure, no_settings=True)
            self.assertEqual(figure.read_bytes()[:4], b"\x89PNG")

    def test_ranks_of_one_run_as_a_list(self):
        ranks = sorted((FIXTURES / "ranks").rglob("*_r*.csv"))
        if len(ranks) < 2:
            self.skipTest("no rank fixtures")
        same_dir = [p for p in ranks if p.parent == ranks[0].parent]
        report = jepa_doctor.analyze(same_dir)
        self.assertEqual(report["input"]["ranks"], len(same_dir))

    def test_an_unusable_input_raises_with_the_tools_message(self):
        with self.assertRaises(jepa_doctor.JepaDoctorError) as caught:
            jepa_doctor.analyze("/nonexistent/run")
        self.assertEqual(caught.exception.returncode, 2)
        self.assertIn("/nonexistent/run", str(caught.exception))

    def test_json_cannot_be_redirected(self):
        with self.assertRaises(ValueError):
            jepa_doctor.analyze(FIXTURES / "samples" / "recipe", json="out.json")


class Compare(unittest.TestCase):
    def test_compare_ranks_the_runs(self):
        if not has_subcommand("compare"):
            self.skipTest("this jepa-doctor has no compare subcommand yet")
        runs = [FIXTURES / "samples" / "recipe", FIXTURES / "samples" / "highlr_reg"]
        report = jepa_doctor.compare(runs)
        self.assertEqual(report["schema_version"], 1)
        self.assertEqual(len(report["runs"]), 2)
        self.assertEqual(sorted(r["rank"] for r in report["runs"]), [1, 2])

    def test_without_compare_the_error_says_so(self):
        if has_subcommand("compare"):
            self.skipTest("this jepa-doctor has compare")
        with self.assertRaises(jepa_doctor.JepaDoctorError) as caught:
            jepa_doctor.compare([FIXTURES / "samples" / "recipe"])
        self.assertIn("no `compare` subcommand", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
