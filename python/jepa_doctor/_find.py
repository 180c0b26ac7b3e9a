"""Locate the jepa-doctor binary that was installed with this package (as ruff's _find_ruff)."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig


def find_jepa_doctor_bin() -> str:
    """The path of the jepa-doctor executable installed with this package.

    Looks in the scripts directory of this interpreter's installation scheme (the venv's ``bin``),
    then the user scheme, then ``PATH``. Raises ``FileNotFoundError`` when there is none.
    """
    exe = "jepa-doctor" + (sysconfig.get_config_var("EXE") or "")
    candidates = [sysconfig.get_path("scripts")]
    if sys.version_info >= (3, 10):
        user_scheme = sysconfig.get_preferred_scheme("user")
    elif os.name == "nt":
        user_scheme = "nt_user"
    else:
        user_scheme = "posix_user"
    candidates.append(sysconfig.get_path("scripts", scheme=user_scheme))
    for directory in candidates:
        if directory:
            path = os.path.join(directory, exe)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    found = shutil.which(exe)
    if found:
        return found
    raise FileNotFoundError(
        f"{exe} is not installed next to this Python ({candidates[0]}) nor on PATH; "
        "reinstall the jepa-doctor package"
    )
