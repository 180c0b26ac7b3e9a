"""Run jepa-doctor from Python: diagnose a JEPA / V-JEPA training run from its logs.

    >>> import jepa_doctor
    >>> report = jepa_doctor.analyze("runs/vitl16", fail_on="warning")
    >>> report["verdict"], report["rebound"]["min_step"]

``analyze`` and ``compare`` run the ``jepa-doctor`` binary installed with this package and return
its JSON report as a ``dict`` (the contract is docs/json.md: ``schema_version`` 1, fields are
added, never removed or renamed). Keyword options are the command-line flags with ``_`` for
``-``: ``fail_on="warning"`` is ``--fail-on=warning``, ``plot="report.png"`` is
``--plot=report.png``, ``strict=True`` is ``--strict``; ``False`` and ``None`` leave a flag out.

A run the tool could analyse returns its report whatever the verdict (the report's ``exit_code``
says whether the ``fail_on`` gate fired); a usage error or an unreadable input raises
``JepaDoctorError`` with the tool's message.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, Dict, Iterable, List, Union

from ._find import find_jepa_doctor_bin

__all__ = ["analyze", "compare", "JepaDoctorError", "find_jepa_doctor_bin"]

PathLike = Union[str, "os.PathLike[str]"]


class JepaDoctorError(RuntimeError):
    """jepa-doctor could not analyse the input (exit status 2): the message says why."""

    def __init__(self, message: str, returncode: int, args: List[str]):
        super().__init__(message)
        self.returncode = returncode
        self.command = args


def _flags(options: Dict[str, Any]) -> List[str]:
    flags = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                flags.append(f"{flag}={os.fspath(item) if hasattr(item, '__fspath__') else item}")
        else:
            if hasattr(value, "__fspath__"):
                value = os.fspath(value)
            flags.append(f"{flag}={value}")
    return flags


def _paths(paths: Union[PathLike, Iterable[PathLike]]) -> List[str]:
    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        return [os.fspath(paths)]  # type: ignore[arg-type]
    return [os.fspath(p) for p in paths]


def _run(subcommand: str, paths: List[str], options: Dict[str, Any]) -> Dict[str, Any]:
    if not paths:
        raise ValueError("give at least one path")
    if "json" in options:
        raise ValueError("the report is always returned as a dict; do not pass json=")
    args = [find_jepa_doctor_bin(), subcommand, "--json", *_flags(options), "--", *paths]
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode not in (0, 1):
        if "unrecognized subcommand" in stderr:
            version = subprocess.run([args[0], "--version"], stdout=subprocess.PIPE).stdout
            stderr = (
                f"the installed {version.decode().strip() or 'jepa-doctor'} has no "
                f"`{subcommand}` subcommand; upgrade jepa-doctor"
            )
        raise JepaDoctorError(stderr or f"jepa-doctor exited with {proc.returncode}", proc.returncode, args)
    try:
        return json.loads(proc.stdout)
    except ValueError as err:  # pragma: no cover - the binary always writes JSON here
        raise JepaDoctorError(f"jepa-doctor wrote no JSON report: {err}; {stderr}", proc.returncode, args)


def analyze(path: Union[PathLike, Iterable[PathLike]], **options: Any) -> Dict[str, Any]:
    """Diagnose one run and return the JSON report as a dict.

    ``path`` is a log file, a run directory, or a list of files that are parts or ranks of one
    run. ``options`` are ``analyze`` flags, e.g. ``fail_on="warning"``, ``jepa_col="loss-jepa"``,
    ``plot="report.png"``, ``alpha=0.01``, ``no_settings=True``.
    """
    return _run("analyze", _paths(path), options)


def compare(paths: Iterable[PathLike], **options: Any) -> Dict[str, Any]:
    """Compare several runs (one table, one overlay figure) and return the compare JSON report.

    Needs a jepa-doctor with the ``compare`` subcommand; an older binary raises
    ``JepaDoctorError`` saying the subcommand is unknown.
    """
    return _run("compare", _paths(paths), options)
