"""Two places a country's CA keys can live, behind one interface.

`FileBackend` keeps each key as encrypted PKCS#8 (passphrase from `SITEKIT_KEY_PASSPHRASE` or a prompt) in
the country's state directory; it exists for sites whose HSM is not there yet and for development.
`Pkcs11Backend` generates every CA key inside a PKCS#11 token as sensitive and non-extractable and asks the
token for every signature; the same code drives SoftHSM2 in the lab and a network HSM in production.

Callers never see the difference: `signer(name)` returns an object that `cryptography`'s X.509 and OpenSSH
certificate builders accept as a private key (for the token it forwards `sign` to the HSM), and
`seal`/`unseal` protect small secrets at rest (the Kubernetes data keys): with a passphrase-derived key for
files, with an AES-256 key that never leaves the token for PKCS#11.

Key types: P-384 (ECDSA) is the default and the only type for X.509 CAs and signing keys, because Go's
crypto/x509 (Kubernetes, etcd) and browsers verify no Ed25519 certificate chains and every PKCS#11 HSM
has it. The SSH CAs are Ed25519 (`generate_key(name, "ed25519")`): OpenSSH verifies it natively and
ssh-audit fails NIST-curve CAs. Both backends make either type; the hierarchy's metadata records which
type each SSH CA generation is, so a P-384 SSH CA made before keeps working until it is rotated.
"""

from __future__ import annotations

import abc
import hashlib
import os
from pathlib import Path
from typing import Any, Literal, get_args

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sitekit.atomic import ensure_private_dir, write_private
from sitekit.errors import UserError
from sitekit.pki import tokenlock
from sitekit.pki.secrets import PASSPHRASE_ENV, PIN_ENV, secret_from_env_or_prompt

CURVE = ec.SECP384R1()
_SEAL_FILE = b"SKS1"
_SEAL_P11 = b"SKP1"
_DATA_KEK = "data-kek"

CAKeyType = Literal["p384", "ed25519"]
"""Signing key types a backend can make: `p384` (ECDSA, every X.509 CA and signing key) or `ed25519`."""
CA_KEY_TYPES: tuple[str, ...] = get_args(CAKeyType)
DEFAULT_KEY_TYPE: CAKeyType = "p384"
CAPublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
CASigner = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
# RFC 8410 id-Ed25519, the curve PKCS#11 3.0 names in CKA_EC_PARAMS for CKK_EC_EDWARDS keys.
_ED25519_OID = "1.3.101.112"


def check_key_type(value: object, where: str) -> CAKeyType:
    """`value` as a key type, or a UserError naming `where` (a metadata field) and the types allowed."""
    if value == "p384":
        return "p384"
    if value == "ed25519":
        return "ed25519"
    raise UserError(f"{where}: unknown key type {value!r} (expected one of {', '.join(CA_KEY_TYPES)})")


class KeyBackend(abc.ABC):
    """Where CA private keys live and how they sign; one instance per country and command run."""

    kind: str = ""

    @abc.abstractmethod
    def has_key(self, name: str) -> bool:
        """Whether a signing key called `name` exists."""

    @abc.abstractmethod
    def generate(self, name: str) -> ec.EllipticCurvePublicKey:
        """Create a P-384 signing key `name` and return its public half; refuses to overwrite."""

    @abc.abstractmethod
    def public_key(self, name: str) -> ec.EllipticCurvePublicKey:
        """The public half of `name`."""

    @abc.abstractmethod
    def signer(self, name: str) -> ec.EllipticCurvePrivateKey:
        """An object the certificate builders accept as the private key of `name`."""

    @abc.abstractmethod
    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """Encrypt a small secret for storage at rest, bound to `context` (authenticated data)."""

    @abc.abstractmethod
    def unseal(self, blob: bytes, context: bytes) -> bytes:
        """Reverse `seal`; fails if the blob or its context was altered."""

    @abc.abstractmethod
    def random(self, size: int) -> bytes:
        """`size` bytes from the backend's CSPRNG (the token's own generator for PKCS#11)."""

    @abc.abstractmethod
    def describe(self, name: str) -> dict[str, Any]:
        """Facts about a key for `keys status` and the tests (location, extractable)."""

    def generate_key(self, name: str, key_type: CAKeyType = DEFAULT_KEY_TYPE) -> CAPublicKey:
        """Create a signing key `name` of `key_type` (P-384 unless told) and return its public half."""
        if check_key_type(key_type, "key type") == "ed25519":
            return self._generate_ed25519(name)
        return self.generate(name)

    def public_key_of(self, name: str, key_type: CAKeyType = DEFAULT_KEY_TYPE) -> CAPublicKey:
        """The public half of `name`, a key of `key_type`."""
        if check_key_type(key_type, "key type") == "ed25519":
            return self._ed25519_public_key(name)
        return self.public_key(name)

    def signer_of(self, name: str, key_type: CAKeyType = DEFAULT_KEY_TYPE) -> CASigner:
        """What the certificate builders accept as the private key of `name`, a key of `key_type`."""
        if check_key_type(key_type, "key type") == "ed25519":
            return self._ed25519_signer(name)
        return self.signer(name)

    @abc.abstractmethod
    def _generate_ed25519(self, name: str) -> ed25519.Ed25519PublicKey:
        """Create an Ed25519 signing key `name`; refuses to overwrite."""

    @abc.abstractmethod
    def _ed25519_public_key(self, name: str) -> ed25519.Ed25519PublicKey:
        """The public half of the Ed25519 key `name`."""

    @abc.abstractmethod
    def _ed25519_signer(self, name: str) -> ed25519.Ed25519PrivateKey:
        """An Ed25519 private key object for `name` (for the token, one that forwards `sign`)."""

    def export_for_backup(self, name: str) -> bytes:
        """Unencrypted PKCS#8 DER of `name` for an M-of-N backup; only backends that may export do."""
        raise UserError(f"the {self.kind} backend cannot export {name!r}: the key is non-extractable")

    def import_from_backup(self, name: str, der: bytes) -> None:
        """Store a key rebuilt by the recovery ceremony."""
        raise UserError(f"the {self.kind} backend cannot import keys")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions; the file backend has none."""


# ---------------------------------------------------------------------------------------------- file


class FileBackend(KeyBackend):
    """Encrypted PKCS#8 files (0600, atomic) under `<state>/keys/<cc>/private/`."""

    kind = "file"

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._passphrase: bytes | None = None
        self._cache: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._ed_cache: dict[str, ed25519.Ed25519PrivateKey] = {}
        self._seal_key: bytes | None = None

    def _path(self, name: str) -> Path:
        return self._dir / "private" / f"{name}.p8"

    def _secret(self) -> bytes:
        if self._passphrase is None:
            self._passphrase = secret_from_env_or_prompt(
                PASSPHRASE_ENV, "Passphrase for the country's CA keys", min_length=12
            ).encode()
        return self._passphrase

    def has_key(self, name: str) -> bool:
        return self._path(name).exists()

    def generate(self, name: str) -> ec.EllipticCurvePublicKey:
        if self.has_key(name):
            raise UserError(f"key {name!r} already exists in {self._path(name)}")
        key = ec.generate_private_key(CURVE)
        self._store(name, key)
        return key.public_key()

    def _generate_ed25519(self, name: str) -> ed25519.Ed25519PublicKey:
        if self.has_key(name):
            raise UserError(f"key {name!r} already exists in {self._path(name)}")
        key = ed25519.Ed25519PrivateKey.generate()
        self._store(name, key)
        return key.public_key()

    def _load_ed25519(self, name: str) -> ed25519.Ed25519PrivateKey:
        cached = self._ed_cache.get(name)
        if cached is not None:
            return cached
        key = self._read_private(name)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise UserError(f"{self._path(name)} is not an Ed25519 key")
        self._ed_cache[name] = key
        return key

    def _ed25519_public_key(self, name: str) -> ed25519.Ed25519PublicKey:
        return self._load_ed25519(name).public_key()

    def _ed25519_signer(self, name: str) -> ed25519.Ed25519PrivateKey:
        return self._load_ed25519(name)

    def _store(self, name: str, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> None:
        ensure_private_dir(self._dir / "private")
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._secret()),
        )
        write_private(self._path(name), pem)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            self._ed_cache[name] = key
        else:
            self._cache[name] = key

    def _read_private(self, name: str) -> object:
        """The decrypted private key stored as `name`, whatever its type; missing or undecryptable is an error."""
        path = self._path(name)
        if not path.exists():
            raise UserError(f"key {name!r} is missing ({path}); run sitekit keys init or recover")
        try:
            return serialization.load_pem_private_key(path.read_bytes(), password=self._secret())
        except ValueError as exc:
            raise UserError(f"cannot decrypt {path}: wrong {PASSPHRASE_ENV}?") from exc

    def _load(self, name: str) -> ec.EllipticCurvePrivateKey:
        if name in self._cache:
            return self._cache[name]
        key = self._read_private(name)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise UserError(f"{self._path(name)} is not an EC key")
        self._cache[name] = key
        return key

    def public_key(self, name: str) -> ec.EllipticCurvePublicKey:
        return self._load(name).public_key()

    def signer(self, name: str) -> ec.EllipticCurvePrivateKey:
        return self._load(name)

    def _seal_aead(self) -> AESGCM:
        if self._seal_key is None:
            salt_path = self._dir / "private" / "seal.salt"
            if not salt_path.exists():
                write_private(salt_path, os.urandom(16))
            kdf = Scrypt(salt=salt_path.read_bytes(), length=32, n=2**15, r=8, p=1)
            self._seal_key = kdf.derive(self._secret())
        return AESGCM(self._seal_key)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return _SEAL_FILE + nonce + self._seal_aead().encrypt(nonce, plaintext, context)

    def unseal(self, blob: bytes, context: bytes) -> bytes:
        if not blob.startswith(_SEAL_FILE):
            raise UserError("sealed blob was not made by the file backend")
        nonce, body = blob[4:16], blob[16:]
        try:
            return self._seal_aead().decrypt(nonce, body, context)
        except Exception as exc:
            raise UserError(f"cannot unseal: wrong {PASSPHRASE_ENV} or altered file") from exc

    def random(self, size: int) -> bytes:
        return os.urandom(size)

    def describe(self, name: str) -> dict[str, Any]:
        return {"location": str(self._path(name)), "extractable": True, "format": "PKCS#8 (encrypted)"}

    def export_for_backup(self, name: str) -> bytes:
        return self._load(name).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def import_from_backup(self, name: str, der: bytes) -> None:
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise UserError("the recovered key is not an EC key")
        self._store(name, key)


# -------------------------------------------------------------------------------------------- pkcs11

_LIBS: dict[str, tuple[Any, str | None]] = {}


def _load_lib(module: str) -> Any:
    """Load the PKCS#11 module once per process; re-initialise SoftHSM2 when SOFTHSM2_CONF moved.

    python-pkcs11 keeps one initialised library per path for the whole process; SoftHSM2 reads its
    configuration only in C_Initialize, so a change of token directory (tests, two countries in one run)
    needs C_Finalize + C_Initialize.
    """
    import pkcs11

    conf = os.environ.get("SOFTHSM2_CONF")
    try:
        if module in _LIBS:
            lib, seen = _LIBS[module]
            if seen != conf:
                lib.reinitialize()
        else:
            lib = pkcs11.lib(module)
    except (OSError, RuntimeError, pkcs11.PKCS11Error) as exc:
        raise UserError(f"cannot load PKCS#11 module {module}: {exc}") from exc
    _LIBS[module] = (lib, conf)
    return lib


def reload_on_next_use(module: str) -> None:
    """Make the next `_load_lib` re-initialise `module` (after a new token was created on disk)."""
    if module in _LIBS:
        _LIBS[module] = (_LIBS[module][0], "\0stale")


class _TokenEcKey(ec.EllipticCurvePrivateKey):
    """A private key that lives in the token: `sign` hashes here and asks the token for CKM_ECDSA.

    cryptography's certificate builders call `sign(data, ECDSA(hash))`; the token returns r||s, which is
    re-encoded as the DER ECDSA-Sig-Value X.509 and OpenSSH expect. Everything that would reveal the
    private scalar raises.
    """

    def __init__(self, handle: Any, public: ec.EllipticCurvePublicKey) -> None:
        self._handle = handle
        self._public = public

    def sign(
        self, data: bytes | bytearray | memoryview, signature_algorithm: ec.EllipticCurveSignatureAlgorithm
    ) -> bytes:
        from pkcs11 import Mechanism

        if not isinstance(signature_algorithm, ec.ECDSA):
            raise TypeError("only ECDSA is supported by the token key")
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, utils.Prehashed):
            digest = bytes(data)
        else:
            hasher = hashes.Hash(algorithm)
            hasher.update(data)
            digest = hasher.finalize()
        raw = bytes(self._handle.sign(digest, mechanism=Mechanism.ECDSA))
        half = len(raw) // 2
        return utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.curve.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise TypeError("token keys only sign")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        raise TypeError("the key is non-extractable: it never leaves the token")

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        raise TypeError("the key is non-extractable: it never leaves the token")

    def __copy__(self) -> _TokenEcKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _TokenEcKey:
        return self


class _TokenEd25519Key(ed25519.Ed25519PrivateKey):
    """An Ed25519 private key that lives in the token: `sign` asks the token for CKM_EDDSA (pure Ed25519).

    OpenSSH's certificate builder calls `sign(data)` with the whole to-be-signed blob; the token returns
    the 64-byte signature RFC 8032 defines. Everything that would reveal the private key raises.
    """

    def __init__(self, handle: Any, public: ed25519.Ed25519PublicKey) -> None:
        self._handle = handle
        self._public = public

    def sign(self, data: bytes | bytearray | memoryview) -> bytes:
        from pkcs11 import Mechanism

        return bytes(self._handle.sign(bytes(data), mechanism=Mechanism.EDDSA))

    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self._public

    def private_bytes_raw(self) -> bytes:
        raise TypeError("the key is non-extractable: it never leaves the token")

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        raise TypeError("the key is non-extractable: it never leaves the token")

    def __copy__(self) -> _TokenEd25519Key:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _TokenEd25519Key:
        return self


def _ed25519_from_ec_point(point: bytes) -> ed25519.Ed25519PublicKey:
    """The Ed25519 public key in a token's CKA_EC_POINT: a DER OCTET STRING (04 20 ...) or the raw 32 bytes."""
    if len(point) == 34 and point[0] == 0x04 and point[1] == 32:
        point = point[2:]
    if len(point) != 32:
        raise UserError(f"the token returned an Ed25519 public key of {len(point)} bytes (expected 32)")
    return ed25519.Ed25519PublicKey.from_public_bytes(point)


_AUTO_CONFS: set[str] = set()


def select_softhsm_conf(directory: Path) -> None:
    """Point SOFTHSM2_CONF at the country's token dir unless the operator (or a test) set it.

    A value sitekit set itself for another country in the same process is replaced, so two countries in
    one run each find their own token; a value that came from outside is always respected.
    """
    current = os.environ.get("SOFTHSM2_CONF")
    if current is None or current in _AUTO_CONFS:
        conf = str(softhsm_conf(directory))
        _AUTO_CONFS.add(conf)
        os.environ["SOFTHSM2_CONF"] = conf


def softhsm_conf(directory: Path) -> Path:
    """Write a SoftHSM2 configuration whose token directory is inside the country's state dir."""
    tokens = ensure_private_dir(directory / "tokens")
    conf = directory / "softhsm2.conf"
    if not conf.exists():
        text = f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        write_private(conf, text.encode())
    return conf


class Pkcs11Backend(KeyBackend):
    """Keys generated and used inside a PKCS#11 token, found by label `sitekit-<name>`."""

    kind = "pkcs11"

    def __init__(self, module: str, token_label: str, lock: Path | None = None) -> None:
        """`lock`: a file that serialises sitekit processes on this token (SoftHSM2 needs it)."""
        self.module = module
        self.token_label = token_label
        self._lock = lock
        self._session: Any = None

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        if self._lock is not None:
            tokenlock.acquire(self._lock)
        try:
            self._session = self._login()
        finally:
            if self._session is None and self._lock is not None:
                tokenlock.release(self._lock)
        return self._session

    def _login(self) -> Any:
        import pkcs11

        lib = _load_lib(self.module)
        try:
            token = lib.get_token(token_label=self.token_label)
        except pkcs11.NoSuchToken as exc:
            raise UserError(
                f"no PKCS#11 token labelled {self.token_label!r} in {self.module}"
                " (for SoftHSM2 run sitekit keys token-init <cc>)"
            ) from exc
        except pkcs11.PKCS11Error as exc:
            detail = type(exc).__name__
            raise UserError(f"the PKCS#11 module {self.module} could not list its tokens: {detail}") from exc
        pin = secret_from_env_or_prompt(PIN_ENV, f"User PIN of token {self.token_label}")
        try:
            return token.open(user_pin=pin, rw=True)
        except (pkcs11.PinIncorrect, pkcs11.PinLenRange, pkcs11.PinInvalid, pkcs11.PinLocked) as exc:
            raise UserError(f"the token refused the PIN ({PIN_ENV}): {type(exc).__name__}") from exc

    @staticmethod
    def _label(name: str) -> str:
        return f"sitekit-{name}"

    def _find(self, name: str, object_class: Any) -> Any:
        import pkcs11

        try:
            return self._open().get_key(object_class=object_class, label=self._label(name))
        except pkcs11.NoSuchKey:
            return None

    def has_key(self, name: str) -> bool:
        from pkcs11 import ObjectClass

        return self._find(name, ObjectClass.PRIVATE_KEY) is not None

    def generate(self, name: str) -> ec.EllipticCurvePublicKey:
        from pkcs11 import Attribute, KeyType
        from pkcs11.util.ec import encode_named_curve_parameters

        if self.has_key(name):
            raise UserError(f"key {name!r} already exists in token {self.token_label}")
        session = self._open()
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp384r1")}, local=True
        )
        key_id = hashlib.sha256(name.encode()).digest()[:16]
        params.generate_keypair(
            id=key_id,
            label=self._label(name),
            store=True,
            public_template={Attribute.VERIFY: True, Attribute.TOKEN: True},
            private_template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.DERIVE: False,
                Attribute.DECRYPT: False,
                Attribute.UNWRAP: False,
            },
        )
        return self.public_key(name)

    def public_key(self, name: str) -> ec.EllipticCurvePublicKey:
        from pkcs11 import ObjectClass
        from pkcs11.util.ec import encode_ec_public_key

        handle = self._find(name, ObjectClass.PUBLIC_KEY)
        if handle is None:
            raise UserError(f"key {name!r} is missing from token {self.token_label}")
        key = serialization.load_der_public_key(encode_ec_public_key(handle))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise UserError(f"token key {name!r} is not an EC key")
        return key

    def signer(self, name: str) -> ec.EllipticCurvePrivateKey:
        from pkcs11 import ObjectClass

        handle = self._find(name, ObjectClass.PRIVATE_KEY)
        if handle is None:
            raise UserError(f"key {name!r} is missing from token {self.token_label}")
        return _TokenEcKey(handle, self.public_key(name))

    def _generate_ed25519(self, name: str) -> ed25519.Ed25519PublicKey:
        import pkcs11
        from pkcs11 import Attribute, KeyType, Mechanism
        from pkcs11.util.ec import encode_named_curve_parameters

        if self.has_key(name):
            raise UserError(f"key {name!r} already exists in token {self.token_label}")
        session = self._open()
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID)}, local=True
        )
        try:
            params.generate_keypair(
                id=hashlib.sha256(name.encode()).digest()[:16],
                label=self._label(name),
                store=True,
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                public_template={Attribute.VERIFY: True, Attribute.TOKEN: True},
                private_template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                    Attribute.DERIVE: False,
                    Attribute.DECRYPT: False,
                    Attribute.UNWRAP: False,
                },
            )
        except pkcs11.PKCS11Error as exc:
            raise UserError(
                f"token {self.token_label} ({self.module}) cannot make Ed25519 keys"
                f" (CKM_EC_EDWARDS_KEY_PAIR_GEN): {type(exc).__name__}"
            ) from exc
        return self._ed25519_public_key(name)

    def _ed25519_public_key(self, name: str) -> ed25519.Ed25519PublicKey:
        from pkcs11 import Attribute, ObjectClass

        handle = self._find(name, ObjectClass.PUBLIC_KEY)
        if handle is None:
            raise UserError(f"key {name!r} is missing from token {self.token_label}")
        return _ed25519_from_ec_point(bytes(handle[Attribute.EC_POINT]))

    def _ed25519_signer(self, name: str) -> ed25519.Ed25519PrivateKey:
        from pkcs11 import ObjectClass

        handle = self._find(name, ObjectClass.PRIVATE_KEY)
        if handle is None:
            raise UserError(f"key {name!r} is missing from token {self.token_label}")
        return _TokenEd25519Key(handle, self._ed25519_public_key(name))

    def _kek(self) -> Any:
        from pkcs11 import Attribute, KeyType, ObjectClass

        key = self._find(_DATA_KEK, ObjectClass.SECRET_KEY)
        if key is None:
            key = self._open().generate_key(
                KeyType.AES,
                256,
                label=self._label(_DATA_KEK),
                store=True,
                template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                },
            )
        return key

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        nonce = self.random(12)
        body = self._kek().encrypt(plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, context))
        return _SEAL_P11 + nonce + bytes(body)

    def unseal(self, blob: bytes, context: bytes) -> bytes:
        import pkcs11
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        if not blob.startswith(_SEAL_P11):
            raise UserError("sealed blob was not made by the PKCS#11 backend")
        nonce, body = blob[4:16], blob[16:]
        try:
            return bytes(
                self._kek().decrypt(body, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, context))
            )
        except pkcs11.PKCS11Error as exc:
            raise UserError("the token could not unseal the blob (altered, or another token)") from exc

    def random(self, size: int) -> bytes:
        return bytes(self._open().generate_random(size * 8))

    def describe(self, name: str) -> dict[str, Any]:
        from pkcs11 import Attribute, ObjectClass

        handle = self._find(name, ObjectClass.PRIVATE_KEY)
        if handle is None:
            return {"location": f"token {self.token_label}", "present": False}
        return {
            "location": f"token {self.token_label} ({self.module})",
            "extractable": bool(handle[Attribute.EXTRACTABLE]),
            "sensitive": bool(handle[Attribute.SENSITIVE]),
            "never_extractable": bool(handle[Attribute.NEVER_EXTRACTABLE]),
        }

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.close()
            finally:
                self._session = None
                if self._lock is not None:
                    tokenlock.release(self._lock)
