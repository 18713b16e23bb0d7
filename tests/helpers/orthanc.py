"""A real Orthanc PACS for tests: started on loopback with a temporary config, free ports and temporary storage,
stopped afterwards. Nothing is skipped: if Orthanc is not installed the test fails and says how to install it
(scripts/install.sh installs the Debian packages `orthanc` and `orthanc-dicomweb`)."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ORTHANC_BINARY = "Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
ORTHANC_AE_TITLE = "ORTHANC"
# the AE title our own client uses; Orthanc knows it as a modality so it may C-GET / C-MOVE to it
CLIENT_AE_TITLE = "XRAYVIEW"
STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port that is free on loopback right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_orthanc() -> str:
    binary = shutil.which(ORTHANC_BINARY) or (f"/usr/sbin/{ORTHANC_BINARY}" if Path(f"/usr/sbin/{ORTHANC_BINARY}").exists() else None)
    if binary is None or not DICOMWEB_PLUGIN.exists():
        raise AssertionError(
            "Orthanc with the DICOMweb plugin is required for the PACS tests but is not installed: "
            "run scripts/install.sh (or `apt-get install orthanc orthanc-dicomweb`)."
        )
    return binary


@dataclass
class OrthancServer:
    """One Orthanc process. `client_scp_port` is where Orthanc sends C-MOVE results (our storage SCP)."""

    workdir: Path
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    client_scp_port: int = field(default_factory=free_port)
    ae_title: str = ORTHANC_AE_TITLE
    client_ae_title: str = CLIENT_AE_TITLE
    process: subprocess.Popen | None = None

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.rest_url}/dicom-web"

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    def write_config(self) -> Path:
        config = {
            "Name": "XRayViewTestPACS",
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.ae_title,
            "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "SslEnabled": False,
            "DicomModalities": {
                "xrayview": {
                    "AET": self.client_ae_title,
                    "Host": "127.0.0.1",
                    "Port": self.client_scp_port,
                    "AllowEcho": True,
                    "AllowFind": True,
                    "AllowGet": True,
                    "AllowMove": True,
                    "AllowStore": True,
                }
            },
            "DicomScuTimeout": 5,
            "DicomAssociationCloseDelay": 0,
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True},
            "HttpTimeout": 10,
            "ConcurrentJobs": 1,
            "LimitFindResults": 0,
            "LimitFindInstances": 0,
            "StableAge": 1,
        }
        path = self.workdir / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def start(self) -> "OrthancServer":
        binary = require_orthanc()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"Orthanc exited with {self.process.returncode} at startup:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.rest_url}/system", timeout=1).ok and self._dicom_port_open():
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"Orthanc did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def _dicom_port_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.dicom_port)) == 0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def kill(self) -> None:
        """Stops the server abruptly (as a crash would); quicker than stop() for 'server went away' tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"

    # --- REST helpers used by the tests to check what arrived -------------------------------------------------
    def get(self, path: str, **kwargs):
        response = requests.get(f"{self.rest_url}{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def upload(self, dicom_bytes: bytes) -> dict:
        response = requests.post(f"{self.rest_url}/instances", data=dicom_bytes, timeout=10,
                                 headers={"Content-Type": "application/dicom"})
        response.raise_for_status()
        return response.json()

    def instance_ids(self) -> list[str]:
        return self.get("/instances").json()

    def find_instance(self, sop_instance_uid: str) -> str | None:
        """Orthanc's id of the instance with this SOP Instance UID, or None."""
        response = requests.post(f"{self.rest_url}/tools/lookup", data=sop_instance_uid, timeout=10)
        response.raise_for_status()
        matches = [m for m in response.json() if m.get("Type") == "Instance"]
        return matches[0]["ID"] if matches else None

    def instance_file(self, orthanc_id: str) -> bytes:
        return self.get(f"/instances/{orthanc_id}/file").content

    def reset(self) -> None:
        for patient in self.get("/patients").json():
            requests.delete(f"{self.rest_url}/patients/{patient}", timeout=10).raise_for_status()
