"""Test files made in code (Pillow, pillow-heif, pypdf, PDFs written byte by byte), and shortcuts to CPR card
uploads in a given state."""

import io
import random
import struct
import zlib
from datetime import date, timedelta

from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
import pillow_heif
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from acsm_portal import clock
from certifications.models import CprUpload
from certifications.cpr.services import (
    CardDetails,
    cpr_upload_add_file,
    cpr_upload_approve,
    cpr_upload_reject,
    cpr_upload_submit,
)
from tests.factories import UserFactory

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def noise(width: int, height: int, seed: int = 1) -> Image.Image:
    rng = random.Random(seed)
    return Image.frombytes("RGB", (width, height), bytes(rng.getrandbits(8) for _ in range(width * height * 3)))


def png_bytes(width: int = 48, height: int = 32, seed: int = 1) -> bytes:
    out = io.BytesIO()
    noise(width, height, seed).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(width: int = 64, height: int = 40, seed: int = 1) -> bytes:
    out = io.BytesIO()
    noise(width, height, seed).save(out, "JPEG", quality=90)
    return out.getvalue()


def heic_bytes(width: int = 80, height: int = 40, *, orientation: int = 1, location: bool = False) -> bytes:
    """A real HEIC photo (HEVC in HEIF, as an iPhone takes them) by pillow-heif: its left half red, its right half
    blue; ``orientation`` is the EXIF one the camera sets (6: turn 90° clockwise to show), ``location`` adds GPS."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Apple"
    if location:
        exif[0x8825] = {1: "N", 2: (40.0, 26.0, 46.0), 3: "W", 4: (79.0, 58.0, 56.0)}
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=90, exif=exif.tobytes())
    return out.getvalue()


def raw_pdf(*, pages: list[bytes] | None = None, catalog: bytes = b"", page: bytes = b"",
            objects: tuple[bytes, ...] = ()) -> bytes:
    """A PDF written byte by byte: object 1 the catalog (plus ``catalog``), 2 the page tree, then one page object
    per content stream in ``pages`` (each plus ``page``, text in Helvetica), then ``objects`` numbered on from
    there; with a correct cross-reference table."""
    pages = pages if pages is not None else [b""]
    first_extra = 3 + 2 * len(pages)
    kids = b" ".join(b"%d 0 R" % (3 + 2 * n) for n in range(len(pages)))
    body = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages),
    ]
    for n, content in enumerate(pages):
        body.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 243 153] /Contents %d 0 R " % (4 + 2 * n)
                    + b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> "
                    + page + b">>")
        body.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    assert len(body) + 1 == first_extra
    return _pdf_file(body + list(objects))


def _pdf_file(objects: list[bytes]) -> bytes:
    out, offsets = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def text_pdf(*lines: str) -> bytes:
    """A PDF of one page per line, each page showing its line in large type (so rendered pages differ)."""
    return raw_pdf(pages=[b"BT /F1 28 Tf 20 65 Td (" + line.encode("latin-1") + b") Tj ET" for line in lines])


def pdf_in_object_stream(catalog: bytes) -> bytes:
    """A PDF 1.5 whose catalog, page tree and page sit in a Flate-compressed object stream, indexed by an xref
    stream: nothing in the catalog (``catalog`` added to it) can be found by searching the file's bytes."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 243 153] >>"]
    header, bodies = [], b""
    for number, body in enumerate(objects, 1):
        header.append(b"%d %d" % (number, len(bodies)))
        bodies += body + b"\n"
    header_bytes = b" ".join(header) + b"\n"
    packed = zlib.compress(header_bytes + bodies)
    out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    stream_at = len(out)
    out += (b"4 0 obj\n<< /Type /ObjStm /N 3 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (len(header_bytes), len(packed)) + packed + b"\nendstream\nendobj\n")
    xref_at = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)] + [struct.pack(">BIH", 2, 4, n) for n in range(3)]
    rows += [struct.pack(">BIH", 1, stream_at, 0), struct.pack(">BIH", 1, xref_at, 0)]
    table = b"".join(rows)
    out += (b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(table)
            + table + b"\nendstream\nendobj\n")
    return out + b"startxref\n%d\n%%%%EOF\n" % xref_at


def pdf_with_script() -> bytes:
    """A PDF made by pypdf that runs JavaScript when it is opened (document-level, in its name tree)."""
    writer = PdfWriter()
    writer.add_blank_page(width=243, height=153)
    writer.add_open_action(JavaScript("app.alert('This card is valid');"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_attachment() -> bytes:
    """A PDF made by pypdf that carries another file inside it."""
    writer = PdfWriter()
    writer.add_blank_page(width=243, height=153)
    writer.add_attachment("invoice.exe", b"MZ\x90\x00 not really a program")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_bytes(*, pages: int = 1, password: str = "") -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=243, height=153)  # a wallet card, in points
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid 1-bit PNG of width × height pixels that compresses to about 100 KB."""
    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_of_size(total: int) -> bytes:
    """A valid PNG of exactly ``total`` bytes, padded with a private ancillary chunk that decoders skip."""
    small = png_bytes(8, 8)
    end = small.rindex(b"IEND") - 4
    pad = total - len(small) - 12
    assert pad >= 0
    return small[:end] + _chunk(b"prVt", b"\0" * pad) + small[end:]


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def details(*, expires_on: date | None = None, card_type: str = "cpr_aed", organization: str = "American Red Cross",
            skills: bool = True) -> CardDetails:
    return CardDetails(
        card_type=card_type,
        issuing_organization=organization,
        expires_on=expires_on or clock.today() + timedelta(days=400),
        skills_check_confirmed=skills,
    )


def reviewer(**extra):
    """A staff member holding the ``can_review_cpr`` permission."""
    staff = UserFactory(is_staff=True, **extra)
    staff.user_permissions.add(Permission.objects.get(codename="can_review_cpr"))
    return type(staff).objects.get(pk=staff.pk)  # a fresh instance: no stale permission cache


def submitted(certification, *, state: str = "pending", expires_on: date | None = None, reason: str = "Blurry photo",
              by=None, files: int = 1, today: date | None = None) -> CprUpload:
    """A card for ``certification`` taken to ``state`` through the services."""
    user = certification.user
    today = today or clock.today_for(user)
    for n in range(files):
        cpr_upload_add_file(certification=certification, user=user, name=f"card-{n}.png", data=png_bytes(seed=n + 100))
    upload = cpr_upload_submit(
        certification=certification, user=user, today=today,
        details=details(expires_on=expires_on or today + timedelta(days=400)),
    )
    if state == "pending":
        return upload
    by = by or reviewer()
    if state == "approved":
        return cpr_upload_approve(upload=upload, reviewer=by)[0]
    if state == "rejected":
        return cpr_upload_reject(upload=upload, reviewer=by, reason=reason)[0]
    raise ValueError(state)
