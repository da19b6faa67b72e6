#!/usr/bin/env python3
"""Prepares the bundled DejaVu Sans for embedding in PDFs.

Every invoice PDF embeds a subset of the fonts, and the subset is compressed
on every render, so what the font carries that a PDF never uses costs time
on every request. This keeps every glyph and its metrics and drops:

- the TrueType hinting (glyph instructions, `fpgm`, `prep`, `cvt `, `gasp`):
  PDF viewers rasterise unhinted or with their own hinter;
- the shaping and kerning tables (`GSUB`, `GPOS`, `GDEF`, `kern`), the math
  table and FontForge's timestamp: fieldpay places one glyph per character
  (`src/pdf/layout.rs`) and shapes nothing;
- the Windows copy of the licence text (name ID 13), whose Macintosh copy
  stays, so the copyright, trademark and permission notices are all still
  in the font, as the Bitstream Vera licence asks. The family names stay
  (no "Bitstream" or "Vera" in them).

    python3 -m pip install fonttools
    python3 scripts/prepare-fonts.py /usr/share/fonts/truetype/dejavu fonts

reads DejaVuSans.ttf and DejaVuSans-Bold.ttf from the first directory
(Debian's fonts-dejavu-core) and writes them into the second.
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont


def prepare(source: Path, target: Path) -> None:
    options = subset.Options()
    options.glyph_names = True
    options.hinting = False
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.name_legacy = True
    options.notdef_glyph = True
    options.notdef_outline = True
    options.recalc_bounds = False
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "MATH", "FFTM", "gasp"]
    font = TTFont(source)
    subsetter = subset.Subsetter(options)
    subsetter.populate(glyphs=font.getGlyphOrder())
    subsetter.subset(font)
    names = font["name"]
    if names.getName(13, 1, 0, 0) is not None:
        names.names = [
            n for n in names.names if not (n.nameID == 13 and n.platformID == 3)
        ]
    font.save(target)


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        prepare(source / name, target / name)
        print(f"{name}: {(source / name).stat().st_size} -> {(target / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
