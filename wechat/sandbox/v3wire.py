"""WeChat Pay API v3 wire format, written independently of wechatpayv3 so the sandbox checks our
client instead of sharing its bugs: request signatures (verified), answer and notify signatures
(made), AEAD_AES_256_GCM notify resources (encrypted) and RSA-OAEP sensitive fields (decrypted).

- A request carries `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
  signature="…",timestamp="…",serial_no="…"`; the signature is SHA256-RSA (PKCS#1 v1.5) by the
  merchant's API certificate key over "METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n", URL being the
  path (and query) after the Pay host.
- An answer or notify carries `Wechatpay-Timestamp/-Nonce/-Signature/-Serial` (and
  `-Signature-Type`); the signature is by WeChat Pay's key over "TIMESTAMP\\nNONCE\\nBODY\\n",
  the serial the public key's id.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wechat.sandbox.tls import SandboxCertificates
from wechat.sandbox.wire import SHANGHAI

SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_SECONDS = 300
_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class V3Keys:
    """What the sandbox signs, verifies and encrypts with for Pay v3."""

    merchant_public_key: rsa.RSAPublicKey  # from the merchant's API certificate
    merchant_serial: int  # that certificate's serial number
    wechatpay_key: rsa.RSAPrivateKey  # "WeChat Pay's" key: answers and notifies are signed with it
    merchant_key: rsa.RSAPrivateKey  # the merchant's own key: a signature WeChat Pay never makes (forgeries)

    @classmethod
    def load(cls, certs: SandboxCertificates) -> V3Keys:
        certificate = x509.load_pem_x509_certificate(certs.client_cert.read_bytes())
        public_key, wechatpay_key = certificate.public_key(), _private_key(certs.wechatpay_key)
        merchant_key = _private_key(certs.client_key)
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("the merchant certificate's key is not RSA")
        return cls(merchant_public_key=public_key, merchant_serial=certificate.serial_number,
                   wechatpay_key=wechatpay_key, merchant_key=merchant_key)


def _private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA key")
    return key


def verify_request(keys: V3Keys, *, mch_id: str, method: str, url: str, body: bytes,
                   authorization: str) -> str:
    """"" when the request is signed by our merchant, else WeChat's reason for a 401 SIGN_ERROR."""
    scheme, _, rest = authorization.partition(" ")
    if scheme != SCHEME:
        return "Authorization头的认证类型错误"
    params = dict(_PARAM.findall(rest))
    for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no"):
        if not params.get(name):
            return f"Authorization头缺少{name}"
    if params["mchid"] != mch_id:
        return "商户号与证书不匹配"
    try:
        serial = int(params["serial_no"], 16)
    except ValueError:
        return "证书序列号格式错误"
    if serial != keys.merchant_serial:
        return "商户证书序列号有误"
    if not params["timestamp"].isdigit() or abs(time.time() - int(params["timestamp"])) > MAX_SKEW_SECONDS:
        return "签名时间戳已过期"
    message = f"{method}\n{url}\n{params['timestamp']}\n{params['nonce_str']}\n".encode() + body + b"\n"
    try:
        keys.merchant_public_key.verify(base64.b64decode(params["signature"], validate=True), message,
                                        padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return "签名错误"
    return ""


def signature_headers(key: rsa.RSAPrivateKey, body: bytes, *, serial: str,
                      timestamp: int | None = None) -> dict[str, str]:
    """The Wechatpay-* headers of an answer or notify whose body is `body`, signed with `key`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce_str(32)
    message = f"{stamp}\n{nonce}\n".encode() + body + b"\n"
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": base64.b64encode(signature).decode("ascii"),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEME,
    }


def encrypt_resource(plain: bytes, *, apiv3_key: str, associated_data: str) -> dict[str, str]:
    """A notify's `resource`: AEAD_AES_256_GCM with the APIv3 key (32 bytes) and a 12-character nonce."""
    nonce = nonce_str(12)
    ciphertext = AESGCM(apiv3_key.encode("utf-8")).encrypt(nonce.encode("ascii"), plain,
                                                           associated_data.encode("utf-8"))
    return {"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
            "associated_data": associated_data, "nonce": nonce}


def decrypt_field(keys: V3Keys, ciphertext: str) -> str | None:
    """A sensitive field (user_name) the merchant encrypted with WeChat Pay's public key (RSA-OAEP,
    SHA-1); None when it does not decrypt."""
    try:
        plain = keys.wechatpay_key.decrypt(base64.b64decode(ciphertext, validate=True),
                                           padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                                                        label=None))
        return plain.decode("utf-8")
    except ValueError:  # bad base64, wrong key or padding, not UTF-8
        return None


def nonce_str(length: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def rfc3339(moment: dt.datetime) -> str:
    """WeChat's v3 time: yyyy-MM-DDTHH:mm:ss+08:00."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")
