"""The sandbox's key material: the mutual TLS WeChat Pay's certificate-only APIs (secapi: refunds)
require, and the RSA keys Pay v3 signs with.

At start the sandbox issues itself a small PKI with `cryptography`: a CA, a server certificate
for 127.0.0.1/localhost, and the merchant's API certificate (CN = mch_id, an RSA 2048 key, like the
apiclient_cert.pem / apiclient_key.pem a merchant downloads from WeChat Pay). Its HTTPS listener
demands a client certificate signed by that CA (`CERT_REQUIRED`), so a call without one fails in
the TLS handshake, exactly where WeChat's fails; our code trusts the CA through a CA-bundle setting.
The same merchant key signs our Pay v3 requests, as at WeChat: the sandbox verifies them with the
certificate's public key and serial number.

"WeChat Pay's" own RSA key pair signs the sandbox's v3 answers and notifies: the private half
stays with the sandbox (wechatpay_key.pem), the public half is what the mall is configured with
(WECHAT_PAY_PUBLIC_KEY: wechatpay_public_key.pem, WeChat Pay's pub_key.pem).

Files in `directory`: ca.pem, server.pem, server.key, apiclient_cert.pem, apiclient_key.pem,
wechatpay_key.pem, wechatpay_public_key.pem. A directory that already holds a valid set for the
same mch_id is reused (the local run keeps them under var/ so the web process finds them between
restarts).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 3650
RSA_KEY_BITS = 2048  # WeChat Pay's API certificates and public keys are RSA 2048
HANDSHAKE_TIMEOUT_SECONDS = 10
# A request header the server sets from the TLS layer only (a caller's own is dropped): the CN of
# the verified client certificate. Absent on the plain HTTP listener.
CLIENT_CERT_HEADER = "x-sandbox-client-cert"


@dataclass(frozen=True)
class SandboxCertificates:
    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path  # the merchant's apiclient_cert.pem -> settings.WECHAT_PAY_MCH_CERT
    client_key: Path  # apiclient_key.pem (RSA: it signs Pay v3 requests too) -> settings.WECHAT_PAY_MCH_KEY
    wechatpay_key: Path  # WeChat Pay's private key: the sandbox signs v3 answers and notifies with it
    wechatpay_public_key: Path  # its public key -> settings.WECHAT_PAY_PUBLIC_KEY

    @classmethod
    def in_directory(cls, directory: Path) -> SandboxCertificates:
        return cls(directory=directory, ca_cert=directory / "ca.pem", server_cert=directory / "server.pem",
                   server_key=directory / "server.key", client_cert=directory / "apiclient_cert.pem",
                   client_key=directory / "apiclient_key.pem", wechatpay_key=directory / "wechatpay_key.pem",
                   wechatpay_public_key=directory / "wechatpay_public_key.pem")

    def files(self) -> tuple[Path, ...]:
        return (self.ca_cert, self.server_cert, self.server_key, self.client_cert, self.client_key,
                self.wechatpay_key, self.wechatpay_public_key)


def issue_certificates(directory: Path, *, mch_id: str) -> SandboxCertificates:
    """The CA, server and merchant certificates in `directory`, issued now unless a valid set for
    `mch_id` is already there. Files are written to temporary names and renamed, so a reader
    never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    certs = SandboxCertificates.in_directory(directory)
    if _reusable(certs, mch_id):
        return certs
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "WeChat Sandbox"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "WeChat Sandbox CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name,
                 server_key.public_key(), now)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    client_key = _rsa_key("merchant")
    client_cert = (
        _builder(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com"),
                            x509.NameAttribute(NameOID.COMMON_NAME, mch_id)]), ca_name,
                 client_key.public_key(), now)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(certs.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(certs.server_cert, server_cert.public_bytes(serialization.Encoding.PEM))
    _write(certs.server_key, _key_pem(server_key), private=True)
    _write(certs.client_cert, client_cert.public_bytes(serialization.Encoding.PEM))
    _write(certs.client_key, _key_pem(client_key), private=True)
    wechatpay_key = _rsa_key("wechatpay")
    _write(certs.wechatpay_key, _key_pem(wechatpay_key), private=True)
    _write(certs.wechatpay_public_key, wechatpay_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return certs


@functools.cache
def _rsa_key(role: str) -> rsa.RSAPrivateKey:
    # An RSA key takes ~0.1 s to make and tests start a sandbox per case in places: one key per
    # role and process. Demo keys: nothing but this sandbox and the mall it serves trusts them.
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


def server_context(certs: SandboxCertificates) -> ssl.SSLContext:
    """TLS for the secure listener: our server certificate, and a client certificate required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    context.load_verify_locations(cafile=str(certs.ca_cert))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_common_name(sock: ssl.SSLSocket) -> str:
    """The CN of the verified client certificate on `sock` ("" when there is none)."""
    cert = sock.getpeercert() or {}
    for rdn in cert.get("subject", ()):
        for attribute in rdn:
            if attribute[0] == "commonName":
                return str(attribute[1])
    return ""


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
             now: dt.datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
    )


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o600 if private else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _reusable(certs: SandboxCertificates, mch_id: str) -> bool:
    if not all(path.is_file() for path in certs.files()):
        return False
    try:
        client = x509.load_pem_x509_certificate(certs.client_cert.read_bytes())
        ca = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    except ValueError:
        return False
    names = client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    # A set issued before Pay v3 has an EC merchant key, which cannot sign v3 requests: issue anew.
    return (bool(names) and names[0].value == mch_id and client.issuer == ca.subject
            and isinstance(client.public_key(), rsa.RSAPublicKey)
            and client.not_valid_after_utc > soon and ca.not_valid_after_utc > soon)
