"""What a rendered PDF shows, read from the PDF itself rather than from its text layer (which is right even where
the glyphs are empty boxes): the glyphs each font draws, where the words sit, and the page as pixels."""

import io
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream, IndirectObject

ROOT = Path(__file__).resolve().parents[2]
_HEX = re.compile(rb"<([0-9a-fA-F]+)>\s*(?:<([0-9a-fA-F]*)>|(\d+))")


@dataclass(frozen=True)
class Run:
    """Glyphs drawn by one text operator: ``font`` is the font's name without its subset tag
    ("Noto-Serif-CJK-SC"), ``text`` what its glyphs stand for, ``notdef`` how many of them are the font's .notdef
    glyph (the empty box a font draws for a character it does not have)."""
    font: str
    text: str
    notdef: int


@dataclass(frozen=True)
class Word:
    """A word as poppler places it, in points from the page's top left corner."""
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


class _Font:
    """A Type 0 (composite) font of a page: two-byte codes, code → CID by its encoding CMap (or identity),
    CID → glyph by its CIDToGIDMap (identity or a table), code → text by its ToUnicode CMap. A code whose
    glyph is 0 draws .notdef. Other kinds of font raise ``NotImplementedError``: nothing here can say what they
    draw, so a check must not pass on them."""

    def __init__(self, font):
        font = font.get_object()
        if font.get("/Subtype") != "/Type0":
            raise NotImplementedError(f"font {font.get('/BaseFont')} is {font.get('/Subtype')}, not Type0")
        self.name = str(font["/BaseFont"]).lstrip("/").split("+", 1)[-1]
        encoding = font["/Encoding"]
        if isinstance(encoding, IndirectObject):
            encoding = encoding.get_object()
        if encoding == "/Identity-H":
            self.cid = None
        elif hasattr(encoding, "get_data"):
            self.cid = {int(code, 16): int(cid) for code, _, cid in _HEX.findall(_section(encoding, b"cidchar"))}
        else:
            raise NotImplementedError(f"encoding {encoding} of {self.name}")
        descendant = font["/DescendantFonts"][0].get_object()
        gid_map = descendant.get("/CIDToGIDMap", "/Identity")
        if isinstance(gid_map, IndirectObject):
            gid_map = gid_map.get_object()
        if gid_map == "/Identity" or descendant["/Subtype"] == "/CIDFontType0":
            self.gid = None
        else:
            table = gid_map.get_data()
            self.gid = {cid: int.from_bytes(table[2 * cid:2 * cid + 2], "big") for cid in range(len(table) // 2)}
        self.text = {}
        if "/ToUnicode" in font:
            for code, text, _ in _HEX.findall(_section(font["/ToUnicode"].get_object(), b"bfchar")):
                self.text[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")

    def run(self, data: bytes) -> Run:
        codes = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2)]
        notdef = 0
        for code in codes:
            cid = code if self.cid is None else self.cid.get(code, 0)
            gid = cid if self.gid is None else self.gid.get(cid, 0)
            notdef += gid == 0
        return Run(self.name, "".join(self.text.get(code, "") for code in codes), notdef)


def _section(stream, kind: bytes) -> bytes:
    data = stream.get_data()
    return b"\n".join(re.findall(rb"begin" + kind + rb"(.*?)end" + kind, data, re.S))


def text_runs(data: bytes) -> list[list[Run]]:
    """Every text operator of every page (form XObjects included), in drawing order, one list per page."""
    reader = PdfReader(io.BytesIO(data))
    return [_runs(page.get_contents(), page["/Resources"], reader) for page in reader.pages]


def _runs(contents, resources, reader) -> list[Run]:
    resources = resources.get_object()
    fonts = {name: _Font(font) for name, font in (resources.get("/Font") or {}).get_object().items()}
    runs, font = [], None
    for operands, operator in ContentStream(contents, reader).operations:
        if operator == b"Tf":
            font = fonts[operands[0]]
        elif operator in (b"Tj", b"'"):
            runs.append(font.run(_raw(operands[0])))
        elif operator == b'"':
            runs.append(font.run(_raw(operands[2])))
        elif operator == b"TJ":
            runs.append(font.run(b"".join(_raw(x) for x in operands[0] if not isinstance(x, (int, float)))))
        elif operator == b"Do":
            xobject = resources["/XObject"][operands[0]].get_object()
            if xobject.get("/Subtype") == "/Form":
                runs.extend(_runs(xobject, xobject.get("/Resources", resources), reader))
    return runs


def _raw(string) -> bytes:
    """A PDF string's bytes, as written (pypdf decodes some strings to text)."""
    return string.original_bytes


def words(data: bytes) -> list[tuple[float, float, list[Word]]]:
    """Each page's (width, height, words) as poppler's ``pdftotext -bbox-layout`` places them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        xhtml = subprocess.run(["pdftotext", "-bbox-layout", str(path), "-"], capture_output=True, check=True,
                               timeout=60).stdout
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    pages = []
    for page in ET.fromstring(xhtml).iterfind(".//x:page", ns):
        found = [Word(w.text or "", *(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")))
                 for w in page.iterfind(".//x:word", ns)]
        pages.append((float(page.get("width")), float(page.get("height")), found))
    return pages


def page_text(data: bytes, page: int = 1) -> str:
    """Page ``page``'s text as ``pdftotext`` reads it (layout order)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"], capture_output=True,
                              text=True, check=True, timeout=60).stdout


def raster(data: bytes, *, dpi: int = 100, page: int = 1) -> Image.Image:
    """Page ``page`` as a grayscale image (``pdftoppm``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                        str(path), str(Path(tmp) / "page")], check=True, timeout=60)
        with Image.open(Path(tmp) / "page.pgm") as image:
            return image.copy()


_RENDER_WITH_FONTS = """
import sys
from pathlib import Path
from acsm_portal.pdf import pdf_from_html
out = Path(sys.argv[1])
for html in sorted(out.glob("*.html")):
    html.with_suffix(".pdf").write_bytes(pdf_from_html(html.read_text()))
"""


def render_with_only(font_dir: str, htmls: list[str]) -> list[bytes]:
    """``htmls`` rendered by ``acsm_portal.pdf.pdf_from_html`` in a process whose fontconfig sees only the fonts in
    ``font_dir``: what a machine with only those fonts prints."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "fonts.conf"
        conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                        f"<dir>{font_dir}</dir><cachedir>{tmp}/cache</cachedir></fontconfig>")
        for i, html in enumerate(htmls):
            (Path(tmp) / f"{i:04d}.html").write_text(html)
        env = {**os.environ, "FONTCONFIG_FILE": str(conf), "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", _RENDER_WITH_FONTS, tmp], env=env, check=True, timeout=300, cwd=ROOT)
        return [(Path(tmp) / f"{i:04d}.pdf").read_bytes() for i in range(len(htmls))]
