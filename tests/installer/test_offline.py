"""The self-test (from source, through `xrayview --self-test`) passes with no network at all: once with every
socket connection and name lookup made to fail (and logged) by a sitecustomize, once inside a network namespace
without interfaces (`unshare -n`) where the kernel allows it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.installer.conftest import REPO

BLOCKER = textwrap.dedent("""
    # Loaded by Python at start-up (PYTHONPATH): every connection or name lookup fails and is logged.
    import os
    import socket

    _LOG = os.environ["NETWORK_ATTEMPT_LOG"]


    def _refuse(what):
        def refused(*args, **kwargs):
            with open(_LOG, "a", encoding="utf-8") as log:
                log.write(f"{what} {args[1:2] if what.startswith('socket.') else args[:1]}\\n")
            raise OSError(f"network disabled by the XRayView offline test ({what})")
        return refused


    socket.socket.connect = _refuse("socket.connect")
    socket.socket.connect_ex = _refuse("socket.connect_ex")
    socket.socket.sendto = _refuse("socket.sendto")
    socket.getaddrinfo = _refuse("getaddrinfo")
    socket.gethostbyname = _refuse("gethostbyname")
    socket.create_connection = _refuse("create_connection")
""")


def _self_test_env(models_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XRAYVIEW_", "PYTHONPATH"))}
    env.update(QT_QPA_PLATFORM="offscreen", XRAYVIEW_MODELS_DIR=str(models_dir))
    return env


def _check_passed(done: subprocess.CompletedProcess) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert done.stdout.strip().splitlines()[-1].startswith("SELF-TEST PASSED"), output
    assert "PASS  model tiny-chest: " in done.stdout


def test_self_test_passes_with_sockets_blocked(tiny_models_dir, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    log = tmp_path / "attempts.log"
    env = _self_test_env(tiny_models_dir)
    env.update(PYTHONPATH=str(site), NETWORK_ATTEMPT_LOG=str(log))
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.getaddrinfo('localhost', 1)"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "network disabled" in probe.stderr  # the blocker is really in force
    log.unlink()
    done = subprocess.run([sys.executable, "-m", "desktop.app", "--self-test"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    _check_passed(done)
    assert not log.exists(), f"network use attempted: {log.read_text()}"


def _unshare_works() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _unshare_works(), reason="unshare -n (a network namespace) is not permitted here")
def test_self_test_passes_in_a_network_namespace_without_interfaces(tiny_models_dir):
    listing = subprocess.run(["unshare", "-n", sys.executable, "-c",
                              "import socket; print(sorted(name for _, name in socket.if_nameindex()))"],
                             capture_output=True, text=True, timeout=60)
    assert listing.stdout.strip() == "['lo']"  # only a loopback device, and it is down
    done = subprocess.run(["unshare", "-n", sys.executable, "-m", "desktop.app", "--self-test"], cwd=REPO,
                          env=_self_test_env(tiny_models_dir), capture_output=True, text=True, timeout=600)
    _check_passed(done)
