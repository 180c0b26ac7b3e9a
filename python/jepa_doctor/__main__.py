"""``python -m jepa_doctor ...`` runs the installed binary with the same arguments."""

import os
import subprocess
import sys

from ._find import find_jepa_doctor_bin


def main() -> None:
    binary = find_jepa_doctor_bin()
    if sys.platform == "win32":
        sys.exit(subprocess.run([binary, *sys.argv[1:]]).returncode)
    os.execvp(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
