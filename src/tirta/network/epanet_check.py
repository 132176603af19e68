"""Ask EPANET itself whether it accepts a model, and turn its refusal into one line with the file line.

The toolkit reports input errors in its report file ("Error 205: undefined time pattern NOPAT in
[JUNCTIONS] section:" followed by the offending line); this module reads that report and finds the
line in the ``.inp``, so a user sees ``file:line: EPANET error 205: …`` instead of a native crash.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tirta.errors import ModelError

__all__ = ["EpanetIssue", "check_with_epanet", "model_error", "parse_report"]

_ERROR = re.compile(r"^\s*Error\s+(\d+):\s*(.*?)\s*:?\s*$")
_NODE_ID = re.compile(r"with ID:\s*(\S+)")
_GENERIC = {200, 233, 302}  # "one or more errors in input file", "cannot open input file"


@dataclass(frozen=True)
class EpanetIssue:
    """One error EPANET reported: its code, message and the ``.inp`` line at fault when known."""

    code: int
    message: str
    line: int | None = None


def _line_of(text: str, snippet: str) -> int | None:
    """1-based number of the first line of ``text`` whose tokens equal those of ``snippet``."""
    want = snippet.split(";", 1)[0].split()
    if not want:
        return None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if raw.split(";", 1)[0].split() == want:
            return lineno
    return None


def _node_line(text: str, node: str) -> int | None:
    """Line where a node is defined ([JUNCTIONS], [RESERVOIRS] or [TANKS])."""
    section = ""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line.upper()
            continue
        toks = line.split()
        if section in ("[JUNCTIONS]", "[RESERVOIRS]", "[TANKS]") and toks and toks[0] == node:
            return lineno
    return None


def parse_report(report: str, text: str) -> list[EpanetIssue]:
    """EPANET's error lines in a report, each with the ``.inp`` line it names (generic ones last)."""
    lines = report.splitlines()
    found: list[EpanetIssue] = []
    for i, raw in enumerate(lines):
        match = _ERROR.match(raw)
        if not match:
            continue
        code, message = int(match.group(1)), match.group(2).rstrip(":.").strip()
        at: int | None = None
        if i + 1 < len(lines) and not _ERROR.match(lines[i + 1]):  # the offending line, quoted
            at = _line_of(text, lines[i + 1])
        node = _NODE_ID.search(message)
        if at is None and node:
            at = _node_line(text, node.group(1))
        issue = EpanetIssue(code, " ".join(message.split()), at)
        if issue not in found:
            found.append(issue)
    return sorted(found, key=lambda e: e.code in _GENERIC)


def model_error(path: Path, issues: list[EpanetIssue], fallback: str) -> ModelError:
    """One-line :class:`ModelError` for the most specific issue EPANET reported."""
    if not issues:
        return ModelError(" ".join(fallback.split()), file=path)
    first = issues[0]
    more = len([e for e in issues if e.code not in _GENERIC]) - 1
    tail = f" (and {more} more)" if more > 0 else ""
    return ModelError(f"EPANET error {first.code}: {first.message}{tail}", file=path, line=first.line)


def _read_report(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def check_with_epanet(path: Path, text: str, *, hydraulics: bool = False) -> None:
    """Open ``path`` with the EPANET toolkit in a throwaway project; raise :class:`ModelError` if it
    refuses (with ``hydraulics`` also its hydraulic solver set-up: unconnected nodes, Error 233)."""
    from epanet import toolkit as tk

    tmp = Path(tempfile.mkdtemp(prefix="tirta-check-"))
    report = tmp / "check.rpt"
    ph: Any = tk.createproject()
    failure: str | None = None
    try:
        try:
            tk.open(ph, str(path), str(report), "")
            if hydraulics:
                tk.openH(ph)
                tk.closeH(ph)
        except Exception as exc:  # owa-epanet raises bare Exception("Error NNN: …")
            failure = str(exc)
        finally:
            try:
                tk.close(ph)  # also after a failed open: it flushes and closes the report file
            finally:
                tk.deleteproject(ph)
        if failure is not None:
            issues = parse_report(_read_report(report), text)
            if not issues:
                code = re.search(r"Error\s+(\d+)", failure)
                issues = [EpanetIssue(int(code.group(1)) if code else 0, failure.split(":", 1)[-1])]
            raise model_error(path, issues, failure)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
