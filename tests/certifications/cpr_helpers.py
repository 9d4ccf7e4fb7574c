"""Test files made in code (Pillow, pypdf), and shortcuts to CPR card uploads in a given state."""

import io
import random
import struct
import zlib
from datetime import date, timedelta

from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter

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
