"""The control plane's PKI: a CA, the serving and client certificates and the service-account
keys (openssl), and self-contained kubeconfigs; split out of `controlplane`.

Stdlib only, like controlplane.py.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

from tests.cluster.pins import ControlPlaneError

LOOPBACK = "127.0.0.1"


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


def generate_pki(pki: Path) -> None:
    """CA, apiserver serving cert, client certs and the service-account key pair (ECDSA P-256).

    Client identities: ``admin`` (system:masters, also used by kwok, which updates every Node),
    and the controller manager and scheduler users that the RBAC bootstrap policy knows.
    """
    if shutil.which("openssl") is None:
        raise ControlPlaneError("openssl not found on PATH (apt-get install openssl)")
    pki.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", "/CN=tvtt-e2e-ca", cwd=pki)  # fmt: skip
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", "sa.key", cwd=pki)  # fmt: skip
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    sans = ",".join(
        [
            f"IP:{LOOPBACK}",
            "IP:10.96.0.1",
            "DNS:localhost",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ]
    )
    leaves = {
        "apiserver": ("/CN=kube-apiserver", f"subjectAltName={sans}\nextendedKeyUsage=serverAuth"),
        "admin": ("/O=system:masters/CN=tvtt-admin", "extendedKeyUsage=clientAuth"),
        "controller-manager": ("/CN=system:kube-controller-manager", "extendedKeyUsage=clientAuth"),
        "scheduler": ("/CN=system:kube-scheduler", "extendedKeyUsage=clientAuth"),
    }
    for name, (subject, ext) in leaves.items():
        (pki / f"{name}.ext").write_text(
            f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n{ext}\n"
        )
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=pki)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "365", "-out", f"{name}.crt",
                 "-extfile", f"{name}.ext", cwd=pki)  # fmt: skip


def write_kubeconfig(path: Path, server: str, pki: Path, user: str) -> None:
    """A self-contained kubeconfig (certs embedded) so it can be copied or exported as is."""

    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "tvtt-e2e",
                "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(f"{user}.crt"),
                    "client-key-data": b64(f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "tvtt-e2e", "context": {"cluster": "tvtt-e2e", "user": user}}],
        "current-context": "tvtt-e2e",
    }
    # JSON is valid YAML; kubeconfig readers accept it.
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
