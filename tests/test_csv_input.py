"""components/csv_input.py directly: what it accepts and what it refuses, side by side."""

import pytest

from core.reading.sources import csv_structure

pytestmark = pytest.mark.unit

HEADER = b"fare,company,tips\n"

ACCEPTED = {
    "plain": HEADER + b"1.5,Taxi Co,0.2\n",
    "bom_and_crlf": b"\xef\xbb\xbf" + HEADER.replace(b"\n", b"\r\n") + b"1.5,Taxi Co,0.2\r\n",
    "quoted_comma_and_newline": HEADER + b'1.5,"Taxi, Co\nNorth",0.2\n',
    "blank_lines": HEADER + b"1.5,Taxi Co,0.2\n\n2.5,Cab,0.1\n",
    "no_final_newline": HEADER + b"1.5,Taxi Co,0.2",
    "two_mb_field": HEADER + b"1.5," + b"Z" * (2 << 20) + b",0.2\n",
    "quoted_header_name": b'fare,"company, legal name",tips\n1.5,Taxi Co,0.2\n',
}

REFUSED = {
    "empty": (b"", "empty file"),
    "header_only": (HEADER, "no data rows"),
    "ragged": (HEADER + b"1.5,Taxi Co,0.2\n2.5,Cab\n", "line 3: 2 fields where the header has 3"),
    "too_many_fields": (HEADER + b"1.5,Taxi Co,0.2,9\n", "line 2: 4 fields"),
    "unterminated_quote": (HEADER + b'1.5,"Taxi Co,0.2\n2.5,Cab,0.1\n', "line 2: a quoted field is never closed"),
    "latin1": (HEADER + b"1.5,Caf\xe9 Taxi,0.2\n", "line 2: not UTF-8 text (byte 0xe9"),
    "nul_byte": (HEADER + b"1.5,Taxi\x00Co,0.2\n", "NUL byte"),
    "duplicate_name": (b"fare,fare,tips\n1,2,3\n", "duplicate column name 'fare'"),
    "empty_name": (b"fare,,tips\n1,2,3\n", "column 2 of the header has no name"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted(tmp_path, name):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(ACCEPTED[name])
    names = csv_structure.check_file(str(path))
    assert len(names) == 3 and not names[0].startswith("\ufeff")


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused(tmp_path, name):
    content, message = REFUSED[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    with pytest.raises(csv_structure.CsvInputError) as raised:
        csv_structure.check_file(str(path))
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_files_of_one_split_must_share_a_header(tmp_path):
    (tmp_path / "a.csv").write_bytes(HEADER + b"1,x,2\n")
    (tmp_path / "b.csv").write_bytes(b"fare,tips,company\n1,2,x\n")
    with pytest.raises(csv_structure.CsvInputError, match="b.csv: its header differs"):
        csv_structure.check_folder(str(tmp_path))


def test_a_folder_without_csv_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(csv_structure.CsvInputError, match="no .csv file in this folder"):
        csv_structure.check_folder(str(tmp_path))
