"""Any name a person can type prints as letters on certificates and receipts, never as empty boxes.

Checked by rendering: the glyphs the PDF draws (not its text layer, which is right even when the glyphs are
boxes) must not be a font's .notdef, each name must be set in one of the families the PDFs declare (a mark from
another font breaks the word), and the name's pixels must differ from the boxes the old fonts printed.
"""

import subprocess
from datetime import date
from pathlib import Path

import pytest
from django.template.loader import render_to_string

from acsm_portal import clock
from acsm_portal.pdf import SANS_FAMILIES, SERIF_FAMILIES, pdf_from_html
from certifications.certificates import certificate_pdf
from certifications.models import Certificate
from payments.models import Order
from payments.pdf import receipt_pdf
from tests.documents.pdfcheck import raster, render_with_only, text_runs, words
from tests.payments.helpers import paid_order_without_stripe

# One name per script, as a person from there would type it.
NAMES = {
    "Chinese": "王秀英",
    "Japanese": "山田 花子 やまだ",
    "Korean": "김민준",
    "Arabic": "محمد عبد الله",
    "Persian": "فاطمه رضایی",
    "Hebrew": "דוד כהן",
    "Hindi": "अर्जुन शर्मा",
    "Bengali": "রবীন্দ্রনাথ ঠাকুর",
    "Punjabi": "ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ",
    "Gujarati": "નરેન્દ્ર પટેલ",
    "Tamil": "சுப்பிரமணியன் ராமசாமி",
    "Telugu": "వెంకట రమణ",
    "Kannada": "ಕುವೆಂಪು",
    "Malayalam": "മമ്മൂട്ടി",
    "Sinhala": "කුමාර සංගක්කාර",
    "Thai": "สมชาย ใจดี",
    "Lao": "ສົມສັກ ພົມມະ",
    "Khmer": "សុខ ចាន់",
    "Burmese": "အောင်ဆန်း",
    "Amharic": "አበበ ቢቂላ",
    "Georgian": "ნინო ბერიძე",
    "Armenian": "Արամ Խաչատրյան",
    "Russian": "Анна Каренина",
    "Greek": "Σωκράτης Παπαδόπουλος",
    "Vietnamese": "Nguyễn Thị Minh Khai",
    "Yoruba": "Ọláòṣebìkan Adéyẹmí",
    "Polish": "Łukasz Wałęsa",
    "Turkish": "Şükrü Çağlar",
}
# The scripts the old image's only fonts (DejaVu) printed as boxes.
BOXES_BEFORE = ["Chinese", "Japanese", "Korean", "Hindi", "Bengali", "Punjabi", "Gujarati", "Tamil", "Telugu",
                "Kannada", "Malayalam", "Sinhala", "Thai", "Khmer", "Burmese", "Amharic"]


def a_certificate(holder_name: str) -> Certificate:
    """An unsaved certificate for ``holder_name``, issued today (rendering reads only its fields)."""
    today = clock.today()
    return Certificate(number=f"CPT-{today.year + 1}-482913", holder_name=holder_name,
                       certification_name="Certified Personal Trainer", issued_on=today,
                       valid_through=date(today.year + 3, 12, 31))


def families(runs, text: str) -> set[str]:
    """The fonts of the runs that draw a letter of ``text`` that is not plain ASCII (the rest of the page is)."""
    letters = {c for c in text if ord(c) > 0x7F}
    return {run.font for run in runs if letters & set(run.text)}


def declared(font: str, stack: list[str]) -> bool:
    """Whether PDF font ``font`` ("Noto-Serif-CJK-SC", "DejaVu-Serif-Bold") is a face of a family of ``stack``."""
    name = font.replace("-", " ")
    return any(name == family or name.startswith(family + " ") for family in stack)


def assert_letters(data: bytes, text: str, stack: list[str]) -> None:
    """No glyph of ``data``'s first page is .notdef, and ``text`` is set in one font, of a family of ``stack``."""
    runs = text_runs(data)[0]
    assert [run for run in runs if run.notdef] == []
    fonts = families(runs, text)
    assert len(fonts) == 1 and declared(*fonts, stack), f"{text!r} is set in {sorted(fonts)}, not one declared family"


@pytest.mark.parametrize("family", sorted(set(SERIF_FAMILIES) | set(SANS_FAMILIES)))
def test_every_declared_family_is_installed(family):
    installed = subprocess.run(["fc-list", family, "family"], capture_output=True, text=True, check=True).stdout
    assert family in {name for line in installed.splitlines() for name in line.split(",")}, (
        f"{family} is not installed: run scripts/ensure-system.sh (fonts-noto-core, fonts-noto-cjk)")


@pytest.mark.parametrize("script", NAMES)
def test_a_certificate_prints_the_holders_name_in_letters(script):
    data = certificate_pdf(certificate=a_certificate(NAMES[script]))
    assert_letters(data, NAMES[script], SERIF_FAMILIES)


@pytest.mark.django_db
@pytest.mark.parametrize("script", NAMES)
def test_a_receipt_prints_the_members_name_and_address_in_letters(user, script):
    name = NAMES[script]
    first, _, last = name.partition(" ")
    user.first_name, user.last_name = first, last or first
    user.save()
    order = paid_order_without_stripe(user, "CPT", total="60.00")
    Order.objects.filter(pk=order.pk).update(billing_name=name, billing_city=name)
    data = receipt_pdf(order=Order.objects.get(pk=order.pk))
    assert_letters(data, name, SANS_FAMILIES)


@pytest.fixture(scope="module")
def printed_before():
    """Each BOXES_BEFORE name's certificate (largest type) as the old image printed it: DejaVu its only font."""
    dejavu = subprocess.run(["fc-list", "-f", "%{file}\n", "DejaVu Serif"], capture_output=True, text=True,
                            check=True).stdout.split()[0]
    htmls = [_certificate_html(NAMES[script]) for script in BOXES_BEFORE]
    return dict(zip(BOXES_BEFORE, render_with_only(str(Path(dejavu).parent), htmls)))


def _certificate_html(name: str) -> str:
    return render_to_string("certifications/certificate_pdf.html", {"c": a_certificate(name), "fit": 0})


def name_band(data: bytes) -> list[bool]:
    """The certificate's name line, between "This certifies that" and "has met all …", as ink (True) per pixel
    at 100 dpi, 90 pixel rows from its top."""
    _, _, placed = words(data)[0]
    top = max(w.y1 for w in placed if w.text == "certifies") * 100 / 72
    image = raster(data, dpi=100)
    band = image.crop((0, int(top) + 2, image.width, int(top) + 92))
    return [value < 128 for value in band.get_flattened_data()]


@pytest.mark.parametrize("script", BOXES_BEFORE)
def test_names_the_old_fonts_printed_as_boxes_now_print_in_letters(printed_before, script):
    before = printed_before[script]
    assert sum(run.notdef for run in text_runs(before)[0]) > 0  # the check above sees the boxes
    now = pdf_from_html(_certificate_html(NAMES[script]))
    assert sum(run.notdef for run in text_runs(now)[0]) == 0
    ink_before, ink_now = name_band(before), name_band(now)
    changed = sum(a != b for a, b in zip(ink_before, ink_now))
    assert sum(ink_now) > 500, "the name printed no ink"
    assert changed > 0.3 * max(sum(ink_before), sum(ink_now)), "the name's pixels are the boxes of before"

