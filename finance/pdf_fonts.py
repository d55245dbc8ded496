"""TrueType fonts for the PDFs the app makes (letters, contribution receipts): parsed once per
process, subset once, embedded from a cache.

fpdf2 (2.8) reads a TrueType file anew for every document (about 25 ms per face for DejaVu
Sans); writing the document, it subsets the face with fontTools (about 10 ms per face, however
small) and writes a glyph map for all 65,536 codes (about 1 ms). A one-page letter cost about
80 ms: 100,000 annual receipts would have taken two hours. Here

- `embed` gives a document a copy of the face parsed once per process, with its own record of
  the glyphs the document uses;
- `Producer`, the writer of the app's PDFs (`letters.Pdf.output`), embeds those faces itself:
  a document whose glyphs are all common ones (`COMMON`: ASCII, the German letters,
  typographic quotes and dashes, "€") embeds the subset of the common glyphs, made and
  compressed once per process; a document with others (a name in Polish or Greek) embeds a
  subset of its glyphs and the common ones, kept for the next document needing the same. The
  glyph map covers the codes used. Any other font is written by fpdf2 as before.
"""

from __future__ import annotations

import copy
import io
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import Glyph, SubsetMap, TTFFont
from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont
from fpdf.syntax import Name, PDFArray, PDFContentStream

COMMON = "".join(map(chr, range(0x20, 0x7F))) + "ÄÖÜäöüß€„“”‚‘’–—…§°"
PROGRAMS_KEPT = 64
# Tables a PDF viewer does not read from an embedded TrueType font.
UNUSED_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "kern", "meta", "SVG "]

_lock = threading.Lock()
_faces: dict[tuple[str, str, Path], _Face] = {}
_programs: OrderedDict[tuple[Path, frozenset[str]], _Program] = OrderedDict()


@dataclass(frozen=True)
class _Face:
    path: Path
    parsed: TTFFont  # fpdf2's reading of the file; copied for every document
    common: frozenset[str]  # the names of the glyphs of COMMON (and .notdef)


@dataclass(frozen=True)
class _Program:
    """A subset of a face as embedded: the font file compressed, its length, and the id of
    each glyph (by name) in it."""

    compressed: bytes
    length: int
    ids: Mapping[str, int]


class _Unread:
    """Where fpdf2 keeps the fontTools font of a face: `Producer` embeds the face from the
    cache instead, and fpdf2 only closes it."""

    def __init__(self, face: _Face) -> None:
        self.face = face

    def close(self) -> None:
        pass


def embed(pdf: FPDF, family: str, files: Mapping[str, Path]) -> None:
    """Make the faces (style: file, e.g. {"": regular, "B": bold}) available in `pdf` under
    `family`, as `FPDF.add_font` would, without reading the files again. The document must be
    written by `Producer`."""
    for style, path in files.items():
        face = _face(family, style, path)
        font = copy.copy(face.parsed)
        # What a document changes on its font is its own; the metrics are shared.
        font.i = len(pdf.fonts) + 1
        font.ttfont = _Unread(face)
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        pdf.fonts[font.fontkey] = font


def _face(family: str, style: str, path: Path) -> _Face:
    key = (family, style, path)
    with _lock:
        face = _faces.get(key)
        if face is None:
            reader = FPDF()
            reader.add_font(family, style, str(path))
            (parsed,) = reader.fonts.values()
            names = {parsed.cmap[ord(c)] for c in COMMON if ord(c) in parsed.cmap}
            face = _faces[key] = _Face(path, parsed, frozenset({".notdef", *names}))
        return face


def _program(face: _Face, glyphs: frozenset[str]) -> _Program:
    wanted = face.common if glyphs <= face.common else glyphs | face.common
    key = (face.path, wanted)
    with _lock:
        if key in _programs:
            _programs.move_to_end(key)
            return _programs[key]
    font = ttLib.TTFont(str(face.path), recalcTimestamp=False)
    # Without the hinting programs a subset is half the size; viewers scale the outlines
    # without them (most ignore them anyway), and print has resolution enough.
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, hinting=False)
    options.drop_tables += UNUSED_TABLES
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(glyphs=sorted(wanted))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    ids = {name: font.getGlyphID(name) for name in font.getGlyphOrder()}
    font.close()
    data = out.getvalue()
    program = _Program(zlib.compress(data), len(data), ids)
    with _lock:
        _programs[key] = program
        while len(_programs) > PROGRAMS_KEPT:
            _programs.popitem(last=False)
    return program


class Producer(OutputProducer):
    """fpdf2's writer, embedding the faces made by `embed` from the cache."""

    def _add_fonts(self, *args: Any) -> dict[int, Any]:
        registry = self.fpdf.fonts
        fonts = list(registry.items())
        ours = [f for _key, f in fonts if isinstance(getattr(f, "ttfont", None), _Unread)]
        for font in ours:
            del registry[font.fontkey]
        try:
            objects = super()._add_fonts(*args)
        finally:
            registry.clear()
            registry.update(fonts)
        for font in ours:
            objects[font.i] = self._embed(font)
        return objects

    def _embed(self, font: TTFFont) -> PDFFont:
        """A Type0 font with Identity-H encoding over a CIDFontType2 (the codes are fpdf2's,
        given to the glyphs in the order the document used them): widths, the map from codes to
        the glyphs of the subset, the map from codes back to text (copying, searching), and
        the subset itself."""
        used = sorted(
            ((code, glyph) for glyph, code in font.subset.items() if glyph is not None),
            key=lambda item: item[0],
        )
        program = _program(font.ttfont.face, frozenset(glyph.glyph_name for _, glyph in used))
        name = f"MPDFAA+{font.name}"
        composite = PDFFont(subtype="Type0", base_font=name, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        widths = " ".join(f"{code} [{glyph.glyph_width}]" for code, glyph in used)
        descendant = PDFFont(
            subtype="CIDFontType2", base_font=name, d_w=font.desc.missing_width, w=f"[{widths}]"
        )
        self._add_pdf_obj(descendant, "fonts")
        composite.descendant_fonts = PDFArray([descendant])
        composite.to_unicode = self._stream(_to_unicode(used).encode("ascii"))
        info = CIDSystemInfo()
        self._add_pdf_obj(info, "fonts")
        descendant.c_i_d_system_info = info
        descriptor = copy.copy(font.desc)
        descriptor.font_name = Name(name)
        self._add_pdf_obj(descriptor, "fonts")
        descendant.font_descriptor = descriptor
        glyph_ids = bytearray(2 * (used[-1][0] + 1) if used else 2)
        for code, glyph in used:
            glyph_ids[2 * code : 2 * code + 2] = program.ids[glyph.glyph_name].to_bytes(2, "big")
        descendant.c_i_d_to_g_i_d_map = self._stream(bytes(glyph_ids))
        # Compressed once per process: marked as such, not compressed again.
        font_file = PDFContentStream(contents=program.compressed)
        font_file.filter = Name("FlateDecode")
        font_file.length1 = program.length  # type: ignore[attr-defined]
        self._add_pdf_obj(font_file, "fonts")
        descriptor.font_file2 = font_file  # type: ignore[attr-defined]
        # fpdf2 remembers the glyphs documents picked in caches shared by all of them, and
        # empties those as it writes each of its fonts: so here, or they grow for good.
        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        return composite

    def _stream(self, contents: bytes) -> PDFContentStream:
        stream = PDFContentStream(contents=contents, compress=True)
        self._add_pdf_obj(stream, "fonts")
        return stream


def _to_unicode(used: Sequence[tuple[int, Glyph]]) -> str:
    """The CMap from codes back to text (Adobe Technical Note 5411), a hundred per block."""
    entries = [
        f"<{code:04X}> <{''.join(chr(u).encode('utf-16-be').hex().upper() for u in glyph.unicode)}>"
        for code, glyph in used
        if isinstance(glyph.unicode, tuple) and glyph.unicode and glyph.unicode != (0,)
    ]
    blocks = "".join(
        f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar\n"
        for chunk in (entries[n : n + 100] for n in range(0, len(entries), 100))
    )
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{blocks}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )
