"""``--token-auth-file``: kube's static token CSV (``token,user,uid[,"group1,group2"]``, one
token a line, at least three columns), read with the file and line of any problem."""

from __future__ import annotations

import csv
from pathlib import Path

from models.apiserver.auth import StaticToken
from models.strict_input import InputError
from runner.input_files import read_lines


def parse_token_line(text: str, path: Path, number: int) -> StaticToken | None:
    """One line; None for a blank line."""
    if not text.strip():
        return None
    try:
        rows = list(csv.reader([text]))
    except csv.Error as error:
        raise InputError(f"not a CSV line: {error}", source=str(path), line=number) from None
    record = [cell.strip() for cell in rows[0]] if rows else []
    if len(record) < 3:
        raise InputError(
            f'expected token,user,uid[,"group1,group2"], got {len(record)} column(s)',
            source=str(path),
            line=number,
        )
    token, user, uid = record[0], record[1], record[2]
    if not token:
        raise InputError("the token is empty", source=str(path), line=number)
    if not user:
        raise InputError("the user name is empty", source=str(path), line=number)
    groups = tuple(g.strip() for g in record[3].split(",") if g.strip()) if len(record) > 3 else ()
    return StaticToken(token=token, user=user, uid=uid, groups=groups)


def read_token_file(path: Path) -> tuple[StaticToken, ...]:
    tokens: list[StaticToken] = []
    seen: set[str] = set()
    for number, raw in read_lines(path):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("not UTF-8", source=str(path), line=number) from None
        entry = parse_token_line(text.rstrip("\r\n"), path, number)
        if entry is None:
            continue
        if entry.token in seen:
            # A token given twice would make the user it stands for depend on line order.
            raise InputError("duplicate token", source=str(path), line=number)
        seen.add(entry.token)
        tokens.append(entry)
    return tuple(tokens)
