"""The standard's validators on what the product writes: dciodvfy (dicom3tools) against the object's IOD, and
dcmtk's dcmdump (parses), dsrdump (SR content tree) and dcmpschk (presentation states). scripts/install.sh
installs both packages; a missing tool fails the test (a missing install step), it never skips.

`assert_valid(path)` asserts 0 errors from every tool, and no warning other than the known ones below, each of
which cannot be avoided (the reasons are in KNOWN_WARNINGS)."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"

# dciodvfy warnings that the objects cannot avoid, with the reason
KNOWN_WARNINGS = {
    # the out-of-distribution guard is this product's own check: no standard concept names it, so the SR uses
    # its private coding scheme (PS3.16 8.2), which dciodvfy does not know
    r"Unrecognized defined term <99XRAYVIEW> for value 1 of attribute <Coding Scheme Designator>":
        "private coding scheme for the guard's verdict",
    # Type 2 values the source image does not have (or a de-identified export empties, PS3.15 E.1-1 action Z):
    # present and empty, as the IOD allows; only a DICOMDIR would need them
    r"Missing attribute or value that would be needed to build DICOMDIR - (Patient ID|Study Date|Study Time|Study ID)$":
        "empty Type 2 identifiers",
    # Laterality present but empty: the body part may be paired and the source does not say which side
    # (PS3.3 C.7.3.1: Type 2C, empty when unknown)
    r"is only permitted to be empty when actually unknown; should be absent \(not empty\) if an unpaired body part":
        "laterality unknown",
}


@dataclass
class Findings:
    tool: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    output: str = ""


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed: run scripts/install.sh (it installs dcmtk and dicom3tools)"
    return path


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool(command[0]), *command[1:]], capture_output=True, text=True, errors="replace",
                          timeout=120)


def dciodvfy(path: str | Path) -> Findings:
    done = _run("dciodvfy", str(path))
    output = done.stdout + done.stderr
    lines = output.splitlines()
    return Findings("dciodvfy", [line for line in lines if line.startswith("Error")],
                    [line for line in lines if line.startswith("Warning")], output)


def dcmtk(path: str | Path) -> list[Findings]:
    """dcmdump always; dsrdump for an SR; dcmpschk for a presentation state. dcmtk writes "E:" for errors and
    "W:" for warnings; a non-zero exit status is an error too."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    commands = [("dcmdump", "-q", str(path))]
    if str(ds.get("Modality", "")) == "SR":
        commands.append(("dsrdump", "-q", str(path)))
    if str(ds.get("SOPClassUID", "")) == GSPS_SOP_CLASS:
        commands.append(("dcmpschk", str(path)))
    found = []
    for command in commands:
        done = _run(*command)
        output = done.stdout + done.stderr
        lines = output.splitlines()
        errors = [line for line in lines if line.startswith("E:") or "Test failed" in line]
        if done.returncode != 0:
            errors.append(f"exit status {done.returncode}")
        if command[0] == "dcmpschk" and "Test passed" not in output:
            errors.append("dcmpschk did not say 'Test passed'")
        warnings = [line for line in lines if line.startswith("W:") and "Testing:" not in line
                    and "Test passed" not in line and "Test failed" not in line]
        found.append(Findings(command[0], errors, warnings, output))
    return found


def unexpected_warnings(findings: Findings) -> list[str]:
    return [line for line in findings.warnings if not any(re.search(pattern, line) for pattern in KNOWN_WARNINGS)]


def assert_valid(path: str | Path) -> list[str]:
    """Asserts that every validator passes `path` with 0 errors and no unknown warning; returns the (known)
    dciodvfy warnings."""
    iod = dciodvfy(path)
    assert not iod.errors, f"dciodvfy errors in {path}:\n{iod.output}"
    assert not unexpected_warnings(iod), f"dciodvfy warnings in {path}:\n{iod.output}"
    for findings in dcmtk(path):
        assert not findings.errors, f"{findings.tool} errors in {path}:\n{findings.output}"
        assert not findings.warnings, f"{findings.tool} warnings in {path}:\n{findings.output}"
    return iod.warnings
