"""Content credentials: every exported WAV and FLAC carries a signed C2PA manifest saying
it was made by a trained model (which one, under which weights licence), by CueDeck, from
which cues. A file whose audio changes after signing fails validation.

Signing uses the user's certificate chain and key when they have set them
(`cuedeck credentials use CERT KEY`); otherwise a local CueDeck certificate authority and
signer, made on first use in the data folder. Readers then find the manifest valid and its
signer untrusted, since nobody else trusts that authority: `Credentials.text` says so."""

import datetime
import hashlib
import io
import json
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, paths
from .audio_io import riff_chunk
from .errors import BadInput, CueDeckError

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ASSERTION = "org.cuedeck.provenance"  # the cues a file was made from, as CueDeck recorded them
MIME = {"wav": "audio/wav", "flac": "audio/flac"}
LOCAL_YEARS = 10
_MAKING = threading.Lock()  # one local signer made at a time in this process


@dataclass(frozen=True)
class Identity:
    chain: bytes  # PEM: the signer's certificate, then its issuers
    key: bytes  # PEM private key (P-256: es256)
    local: bool  # CueDeck's own authority, made on this computer

    @property
    def name(self) -> str:
        from cryptography import x509

        subject = x509.load_pem_x509_certificate(self.chain).subject
        return ", ".join(a.value for a in subject)


@dataclass
class Credentials:
    """What a file's C2PA manifest says, and whether it holds."""
    state: str  # "valid", "invalid" or "none"
    trusted: bool = False
    signer: str = ""
    manifest: dict = field(default_factory=dict)  # the active manifest
    problems: list[str] = field(default_factory=list)  # c2pa's failure codes, untrusted signer aside

    @property
    def provenance(self) -> dict:
        return next((a["data"] for a in self.manifest.get("assertions", []) if a["label"] == ASSERTION), {})

    def text(self) -> str:
        if self.state == "none":
            return "no content credentials"
        if self.state == "invalid":
            return f"content credentials INVALID ({', '.join(self.problems)}): the file changed after signing"
        trust = "trusted" if self.trusted else \
            "the signer's certificate is not one this reader trusts (CueDeck's local authority, or your own)"
        return f"content credentials valid, signed by {self.signer}; {trust}"


def identity() -> Identity:
    """The user's signing certificate and key if set, else CueDeck's local ones (made now if need be)."""
    chosen = _choice_file()
    if chosen.is_file():
        choice = json.loads(chosen.read_text())
        try:
            return Identity(Path(choice["certificate"]).read_bytes(), Path(choice["key"]).read_bytes(), False)
        except OSError as e:
            raise BadInput(f"cannot read the signing certificate or key ({e.filename}: {e.strerror}); "
                           "restore it, or sign with CueDeck's own: `cuedeck credentials local`") from None
    return _local()


def signer_description() -> str:
    """Who signs, in words, without reading any key (for the export dialog)."""
    chosen = _choice_file()
    if chosen.is_file():
        return f"your certificate {Path(json.loads(chosen.read_text())['certificate']).name}"
    return ("CueDeck's local authority on this computer: readers find the credentials valid but cannot "
            "trust who signed them (`cuedeck credentials use CERT KEY` signs with yours)")


def use(certificate: Path, key: Path) -> Identity:
    """Sign from now on with the user's certificate chain and key (PEM), after a trial signature."""
    try:
        chosen = Identity(Path(certificate).read_bytes(), Path(key).read_bytes(), False)
    except OSError as e:
        raise BadInput(f"cannot read {e.filename}: {e.strerror}") from None
    try:
        Signing(manifest("trial.wav", [], True), chosen).wav(_silence, io.BytesIO())
    except Exception as e:  # c2pa says what it refuses: expired, wrong key usage, not a key for this certificate
        raise BadInput(f"c2pa refuses to sign with {certificate} and {key}: {e}".splitlines()[0]) from None
    _choice_file().parent.mkdir(parents=True, exist_ok=True)
    _choice_file().write_text(json.dumps({"certificate": str(Path(certificate).resolve()),
                                          "key": str(Path(key).resolve())}))
    return chosen


def use_local() -> Identity:
    _choice_file().unlink(missing_ok=True)
    return _local()


def manifest(title: str, cues: list, include_prompt: bool, part: str = "cue") -> dict:
    """A manifest for a file made from `cues` (a cue, or a timeline's stem or mix)."""
    models = sorted({f"{c.model} (weights {c.licence})" for c in cues})
    return {
        "claim_generator_info": [{"name": "CueDeck", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE,
                "softwareAgent": {"name": "CueDeck", "version": __version__},
                "description": f"{part} generated by {', '.join(models) or 'a trained model'}"}]}},
            {"label": ASSERTION, "data": {"part": part, "cues": [_cue_record(c, include_prompt) for c in cues]}},
        ],
    }


@dataclass(frozen=True)
class Signing:
    """A file's C2PA manifest and who signs it."""
    manifest: dict
    identity: Identity

    def wav(self, parts_for, file) -> None:
        """Write a signed WAV into the binary `file`: `parts_for(n)`'s bytes (the file's but
        its last chunk, its RIFF size counting n more), then a C2PA chunk of n bytes. The
        audio is hashed here as it is written, by hashlib (c2pa's own pass over a file costs
        four times as much), and bound to the manifest by c2pa's data-hashed signing, which
        c2pa-python does not wrap: its library's C calls."""
        import ctypes

        import c2pa
        from c2pa import c2pa as native

        with c2pa.Signer.from_info(self._info()) as signer, c2pa.Builder(self.manifest) as builder:
            reserved = len(_native_bytes(native, "c2pa_builder_data_hashed_placeholder", builder._handle,
                                         ctypes.c_size_t(signer.reserve_size()), b"application/c2pa"))
            pad = b"\0" * (reserved % 2)  # after an odd chunk; c2pa's reader hashes it with the audio
            digest, start = hashlib.sha256(), 0
            for part in parts_for(8 + reserved + len(pad)):
                digest.update(part)
                start += file.write(part)
            digest.update(pad)
            data_hash = {"exclusions": [{"start": start, "length": 8 + reserved}],
                         "name": "jumbf manifest", "alg": "sha256", "hash": list(digest.digest()), "pad": []}
            jumbf = _native_bytes(native, "c2pa_builder_sign_data_hashed_embeddable", builder._handle,
                                  signer._handle, json.dumps(data_hash).encode(), b"application/c2pa", None)
        if len(jumbf) != reserved:
            raise CueDeckError("c2pa signed a manifest of another size than it reserved; export unsigned (--unsigned)")
        file.write(riff_chunk(b"C2PA", jumbf))

    def stream(self, content: bytes, fmt: str, out) -> None:
        """Write `content` (a whole file c2pa embeds manifests in: FLAC) into the binary file
        `out` with the manifest signed into it."""
        import c2pa

        out = _Watched(out)
        try:
            with c2pa.Signer.from_info(self._info()) as signer, c2pa.Builder(self.manifest) as builder:
                builder.sign(signer, MIME[fmt], io.BytesIO(content), out)
        except c2pa.C2paError:
            if out.error:  # c2pa says "embedding error" for what the disk said: say that (a full disk…)
                raise out.error from None
            raise

    def _info(self):
        import c2pa

        return c2pa.C2paSignerInfo(alg=b"es256", sign_cert=self.identity.chain, private_key=self.identity.key,
                                   ta_url=None)


def _native_bytes(native, function: str, *args) -> bytes:
    """The bytes a c2pa C call returns through its last argument (c2pa's own error if it fails)."""
    import ctypes

    call = getattr(native._lib, function)
    call.restype = ctypes.c_int64  # its arguments are typed by the caller: handles, c_size_t, bytes, None
    pointer = ctypes.POINTER(ctypes.c_ubyte)()
    length = native._check_ffi_operation_result(call(*args, ctypes.byref(pointer)), f"{function} failed",
                                                check=lambda r: r < 0)
    try:
        return ctypes.string_at(pointer, length)
    finally:
        native._lib.c2pa_free(pointer)


class _Watched:
    """A binary file that keeps the OSError of a failed write, which c2pa would otherwise
    turn into a bare "embedding error"."""

    def __init__(self, file):
        self._file, self.error = file, None

    def write(self, data) -> int:
        try:
            return self._file.write(data)
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name):
        return getattr(self._file, name)


def read(path: Path) -> Credentials:
    import c2pa

    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in MIME:
        return Credentials("none")
    try:
        with open(path, "rb") as f, c2pa.Reader(MIME[fmt], f) as reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            active = reader.get_active_manifest() or {}
    except c2pa.C2paError.ManifestNotFound:
        return Credentials("none")
    except c2pa.C2paError as e:
        return Credentials("invalid", problems=[str(e).splitlines()[0]])
    failures = [f["code"] for f in results.get("activeManifest", {}).get("failure", [])]
    problems = [code for code in failures if code != "signingCredential.untrusted"]
    info = active.get("signature_info", {})
    return Credentials("valid" if state in ("Valid", "Trusted") and not problems else "invalid",
                       trusted=state == "Trusted", signer=info.get("common_name") or info.get("issuer", ""),
                       manifest=active, problems=problems)


# -- the local authority -----------------------------------------------------------------

def _choice_file() -> Path:
    return paths.config_dir() / "signing.json"


def _local() -> Identity:
    """CueDeck's local signer, made on first use: its key and certificate chain in one file,
    written whole or not at all, so exports starting together each read a matching pair."""
    path = paths.data_dir() / "credentials" / "cuedeck-signer.pem"
    with _MAKING:  # (other processes write their own part file: the last whole pair wins)
        if not path.is_file():
            from .audio_io import write_atomic

            made = _new_identity()
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, made.key + made.chain)
            path.chmod(0o600)
        pem = path.read_bytes()
    end = b"-----END PRIVATE KEY-----\n"
    key_end = pem.index(end) + len(end)
    return Identity(pem[key_end:], pem[:key_end], True)


def _new_identity() -> Identity:
    """A CueDeck certificate authority and a signer it issues: P-256, the signer with
    digitalSignature and emailProtection, key identifiers both ways (what c2pa asks of a
    signer). The authority's key is not kept: a new pair is made if this one is lost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CueDeck (this computer)")])

    def certificate(subject, issuer, public, signing_key, ca: bool):
        usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                               "encipher_only", "decipher_only"), False)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=365 * LOCAL_YEARS))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **usage),
                                  critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
        if not ca:
            builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                                      critical=False))
        return builder.sign(signing_key, hashes.SHA256())

    authority_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    authority = certificate(name("CueDeck local authority"), name("CueDeck local authority"),
                            authority_key.public_key(), authority_key, ca=True)
    signer = certificate(name("CueDeck signer"), authority.subject, signer_key.public_key(), authority_key, ca=False)
    pem = serialization.Encoding.PEM
    key = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return Identity(signer.public_bytes(pem) + authority.public_bytes(pem), key, True)


def _cue_record(cue, include_prompt: bool) -> dict:
    record = {"cue": cue.id, "model": cue.model, "weights_licence": cue.licence, "seed": cue.seed,
              "audiocraft": cue.audiocraft_version, "cuedeck": cue.cuedeck_version, "sha256": cue.sha256,
              "created_at": cue.created_at}
    if cue.role:
        record.update(role=cue.role, parent=cue.parent_id)
    if include_prompt:
        record.update(prompt=cue.prompt, negative=cue.negative)
    return record


def _silence(trailer: int) -> list:
    """A short silent WAV's bytes, its RIFF size counting `trailer` more (see Signing.wav)."""
    import numpy as np

    from .audio_io import float_wav_bytes

    content = float_wav_bytes(np.zeros((1, 480), np.float32), 48000)
    return [b"RIFF", struct.pack("<I", len(content) - 8 + trailer), content[8:]]
