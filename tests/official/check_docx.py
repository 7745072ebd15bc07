"""Reads a DOCX file with python-docx, a reader independent of the one that
wrote it, and checks it against Decree 30/2020 (Appendix I) and against what
the test expects it to hold.

Usage: check_docx.py FILE EXPECTED.json

EXPECTED holds: "parts" (texts that must appear), "items" (["1.1", "measure
text"] pairs that must appear as numbered paragraphs), "texts" (what people
wrote, which must appear exactly, NFC), and "absent" (what must not).
Prints one line per problem and exits 1 if there is any.
"""
import json
import re
import sys
import unicodedata

import docx
from docx.shared import Mm, Pt

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def near(length, mm):
    return abs(length - Mm(mm)) <= Mm(0.5)


def paragraphs(document):
    yield from document.paragraphs
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs


path, expected_path = sys.argv[1], sys.argv[2]
expected = json.load(open(expected_path, encoding="utf-8"))
document = docx.Document(path)

section = document.sections[0]
check(near(section.page_width, 210) and near(section.page_height, 297),
      f"page is not A4: {section.page_width.mm:.1f} x {section.page_height.mm:.1f} mm")
for name, low, high in [("top_margin", 20, 25), ("bottom_margin", 20, 25),
                        ("left_margin", 30, 35), ("right_margin", 15, 20)]:
    value = getattr(section, name).mm
    check(low - 0.5 <= value <= high + 0.5, f"{name} is {value:.1f} mm, not {low}-{high} mm")

all_paragraphs = list(paragraphs(document))
lines = [p.text for p in all_paragraphs]
text = "\n".join(lines)

for p in all_paragraphs:
    for run in p.runs:
        if not run.text.strip():
            continue
        check(run.font.name == "Times New Roman", f"font {run.font.name!r} in {run.text[:40]!r}")
        size = run.font.size
        check(size is not None and Pt(11) <= size <= Pt(14), f"size {size and size.pt} in {run.text[:40]!r}")

body_sizes = {run.font.size.pt for p in document.paragraphs for run in p.runs
              if run.text.strip() and run.font.size is not None}
check(body_sizes and max(body_sizes) in (13.0, 14.0), f"body text sizes {sorted(body_sizes)}")

for part in ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
             "BÁO CÁO", "Nơi nhận:"] + expected.get("parts", []):
    check(part in text, f"missing part: {part!r}")
check(re.search(r"^Số: .*/BC", text, re.M), "missing the number and symbol (Số: …/BC…)")
check(re.search(r", ngày \d{2} tháng \d{2} năm \d{4}$", text, re.M), "missing the place and date")
motto = [r for p in all_paragraphs for r in p.runs if "Độc lập - Tự do - Hạnh phúc" in r.text]
check(motto and motto[0].underline, "the motto is not underlined")

for line in lines:
    check(unicodedata.is_normalized("NFC", line), f"not NFC: {line[:60]!r}")
for written in expected.get("texts", []):
    for piece in unicodedata.normalize("NFC", written).split("\n"):
        check(piece in text, f"text did not round-trip: {piece[:60]!r}")
for absent in expected.get("absent", []):
    check(absent not in text, f"should be absent: {absent!r}")

for number, measure in expected.get("items", []):
    wanted = f"{number}. {unicodedata.normalize('NFC', measure)}"
    check(any(line.startswith(wanted) for line in lines), f"missing measure {wanted[:70]!r}")

for problem in problems:
    print(problem)
print(f"{len(all_paragraphs)} paragraphs, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
