"""Write the two EC-Lab CSV fixtures of this folder from gcpl_5cycles_C09_excerpt.mpt beside them.

Every cell is the .mpt's own text, only the layout changes (the .mpt's numbers are the real .mpr's, see
make_mpt_fixtures.py):

- gcpl_5cycles_C09_excerpt_header_block.csv: the .mpt's header block kept line for line (so its
  ``Nb header lines`` still points at the column header), columns separated by ``;``, the column header
  ending with a ``;`` as the .mpt's ends with a tab, decimal commas, CRLF, Windows-1252 (a European-locale
  EC-Lab export);
- gcpl_5cycles_C09_excerpt_no_header.csv: no header block (the column header on line 1), ``;`` separated,
  decimal points, LF, UTF-8 (EC-Lab's automatic CSV export).

Run: python make_csv_fixtures.py   (standard library only)
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "gcpl_5cycles_C09_excerpt.mpt"
WITH_BLOCK = HERE / "gcpl_5cycles_C09_excerpt_header_block.csv"
WITHOUT_BLOCK = HERE / "gcpl_5cycles_C09_excerpt_no_header.csv"


def split_mpt(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    """(header block lines, column names, rows of cells) of an EC-Lab .mpt."""
    lines = path.read_bytes().decode("cp1252").split("\r\n")
    while lines and lines[-1] == "":
        lines.pop()
    header_line = int(lines[1].split(":")[1])
    names = lines[header_line - 1].split("\t")
    if names[-1] == "":
        names.pop()  # the .mpt's header ends with a tab the rows do not have
    rows = [line.split("\t") for line in lines[header_line:]]
    assert all(len(row) == len(names) for row in rows)
    return lines[: header_line - 1], names, rows


def main() -> None:
    block, names, rows = split_mpt(SOURCE)
    with_block = [*block, ";".join(names) + ";"]
    with_block += [";".join(cell.replace(".", ",") for cell in row) for row in rows]
    WITH_BLOCK.write_bytes(("\r\n".join(with_block) + "\r\n").encode("cp1252"))
    without_block = [";".join(names), *(";".join(row) for row in rows)]
    WITHOUT_BLOCK.write_bytes(("\n".join(without_block) + "\n").encode("utf-8"))
    print(f"{len(rows)} rows each")


if __name__ == "__main__":
    main()
