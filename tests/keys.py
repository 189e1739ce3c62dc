"""Key files for tests: a production configuration, or a stranger, names real PEM files."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def write_public_key(path: Path) -> Path:
    """An RSA public key in PEM at `path`, as WeChat Pay's pub_key.pem."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path
