"""Importing a folder of Markdown files (one item each, YAML front matter) into a SqliteKnowledgeBase.

Rules (DESIGN.md §6 "Knowledge base files"):
- Every `*.md` file under the folder, sub-folders included, in path order; hidden files and folders are skipped.
- A bad file is reported as `file:line: reason` and skipped; the others are imported. Bad means: YAML that does
  not parse (the line YAML names), no front matter, an unknown or repeated field, a field of the wrong type, a
  missing title, an id that is not `[A-Za-z0-9][A-Za-z0-9._-]*`, an id already taken by an earlier file (the
  first file in path order keeps it), `handling_days`/`contacts` on an item that is not an escalation.
- A link (`escalations`, `organisations`) to an id that is neither in the folder nor already stored, or to an item
  of the wrong type, is a WARNING: the item is imported with the link as written. One mistyped link should not
  take a script away from the agents; the desk shows a link it cannot resolve as missing.
- Idempotent: an item whose content and source file did not change is counted `unchanged` and not rewritten.
- `prune=True` deletes stored items that no file of the folder defines any more; the items of files that failed
  to import are kept (a typo must not delete the article it broke), and an empty folder never prunes.

The import is blocking (file reads and one SQLite transaction): from the event loop run it with asyncio.to_thread.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .model import CONTACT_KINDS, ITEM_TYPES, Contact, Faq, Item, item_to_json
from .sqlite_backend import SqliteKnowledgeBase, StoredItem

FIELDS = (
    "id",
    "type",
    "title",
    "lang",
    "skills",
    "keywords",
    "instructions",
    "faq",
    "escalations",
    "organisations",
    "updated",
    "handling_days",
    "contacts",
)
ESCALATION_ONLY_FIELDS = ("handling_days", "contacts")
CONTACT_FIELDS = ("kind", "value", "agent_may_escalate", "give_to_citizen")
FAQ_FIELDS = ("q", "a")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
LANG_PATTERN = re.compile(r"[a-z]{2}")
FRONT_MATTER_FENCE = "---"
# libyaml's parser when PyYAML was built with it: ten times faster, same nodes and marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ImportIssue:
    """One problem in one file. Named Issue, not ImportError, so as not to shadow Python's builtin."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}" if self.line else f"{self.path}: {self.reason}"


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: int = 0
    errors: list[ImportIssue] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Parsed:
    item: Item
    path: Path
    source: str
    links: list[tuple[str, str, int]]  # (field, target id, line) for the link check
    id_line: int


class _FileErrors(Exception):
    def __init__(self, issues: list[tuple[int, str]], item_id: str | None = None) -> None:
        super().__init__(issues)
        self.issues = issues
        self.item_id = item_id


def import_folder(kb: SqliteKnowledgeBase, folder: Path, prune: bool = False) -> ImportReport:
    """Import every Markdown file under `folder` into `kb`; see the module docstring for the rules."""
    folder = Path(folder)
    report = ImportReport()
    if not folder.is_dir():
        report.errors.append(ImportIssue(folder, 0, "not a folder"))
        return report
    scan = _scan(folder, report)
    stored = kb.stored_refs()
    to_delete: set[str] = set()
    if prune:
        if not scan.files:
            report.errors.append(
                ImportIssue(folder, 0, "no Markdown files found: refusing to prune every item")
            )
        else:
            kept = scan.failed_ids | {i for i, ref in stored.items() if ref.source in scan.failed_sources}
            to_delete = set(stored) - set(scan.parsed) - kept
    known_types = {item_id: ref.type for item_id, ref in stored.items() if item_id not in to_delete}
    known_types.update({item_id: entry.item.type for item_id, entry in scan.parsed.items()})
    report.warnings.extend(_check_links(scan.parsed.values(), known_types))

    writes: list[StoredItem] = []
    for item_id, entry in scan.parsed.items():
        digest = _digest(entry.item)
        previous = stored.get(item_id)
        if previous is not None and (previous.digest, previous.source) == (digest, entry.source):
            report.unchanged += 1
            continue
        if previous is None:
            report.imported += 1
        else:
            report.updated += 1
        writes.append(StoredItem(item=entry.item, source=entry.source, digest=digest))
    kb.write_items(writes, sorted(to_delete))
    report.pruned = len(to_delete)
    return report


@dataclass
class _Scan:
    files: list[Path]
    parsed: dict[str, _Parsed]
    failed_ids: set[str]  # ids that files which failed to parse may define: prune keeps them
    failed_sources: set[str]


def _scan(folder: Path, report: ImportReport) -> _Scan:
    """Parse every file of the folder; bad files and duplicate ids go into report.errors."""
    files = sorted(
        p
        for p in folder.rglob("*.md")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    scan = _Scan(files=files, parsed={}, failed_ids=set(), failed_sources=set())
    for path in files:
        source = path.relative_to(folder).as_posix()
        try:
            entry = _parse_file(path, source)
        except _FileErrors as exc:
            report.errors.extend(ImportIssue(path, line, reason) for line, reason in exc.issues)
            scan.failed_ids.update(i for i in (exc.item_id, path.stem) if i)
            scan.failed_sources.add(source)
            continue
        first = scan.parsed.get(entry.item.id)
        if first is not None:
            reason = f"duplicate id {entry.item.id!r}: already defined in {first.path}"
            report.errors.append(ImportIssue(path, entry.id_line, reason))
            continue
        scan.parsed[entry.item.id] = entry
    return scan


def _check_links(entries: Iterable[_Parsed], known_types: dict[str, str]) -> list[ImportIssue]:
    warnings = []
    for entry in entries:
        for field_name, target, line in entry.links:
            wanted = "escalation" if field_name == "escalations" else "organisation"
            found = known_types.get(target)
            if found is None:
                warnings.append(ImportIssue(entry.path, line, f"{field_name}: unknown item {target!r}"))
            elif found != wanted:
                reason = f"{field_name}: {target!r} is an {found}, not an {wanted}"
                warnings.append(ImportIssue(entry.path, line, reason))
    return warnings


def _digest(item: Item) -> str:
    canonical = json.dumps(item_to_json(item), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_file(path: Path, source: str) -> _Parsed:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _FileErrors([(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from exc
    lines = text.splitlines()
    if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
        raise _FileErrors([(1, "no front matter: the file must start with a '---' line")])
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in (FRONT_MATTER_FENCE, "..."))
    except StopIteration:
        raise _FileErrors([(1, "front matter is not closed by a '---' line")]) from None
    front = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :]).strip("\n")
    node, data = _load_yaml(front)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _FileErrors([(2, "front matter must be a mapping of fields (key: value)")])
    return _Validator(path, source, node, data, body).run()


def _load_yaml(front: str) -> tuple[yaml.Node | None, Any]:
    # The front matter starts on line 2 of the file; YAML marks count lines from 0.
    loader = _LOADER(front)
    try:
        node = loader.get_single_node()
        _check_duplicate_keys(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark else 2
        problem = exc.problem or exc.context or "invalid YAML"
        raise _FileErrors([(line, f"YAML error: {problem}")]) from exc
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        # e.g. a date-shaped value that is no date (2024-13-01): the constructor gives no line.
        raise _FileErrors([(2, f"YAML error: {exc}")]) from exc
    finally:
        loader.dispose()
    return node, data


def _check_duplicate_keys(node: yaml.Node | None) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise _FileErrors([(key.start_mark.line + 2, f"field {key.value!r} given twice")])
                seen.add(key.value)
            _check_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _check_duplicate_keys(child)


class _Validator:
    """Checks the front matter field by field, collecting every problem with its line before giving up."""

    def __init__(
        self, path: Path, source: str, node: yaml.Node | None, data: dict[str, Any], body: str
    ) -> None:
        self.path = path
        self.source = source
        self.node = node
        self.data = data
        self.body = body
        self.issues: list[tuple[int, str]] = []

    def line(self, *steps: str | int) -> int:
        """File line of the node reached by following `steps` (keys and list indexes) from the top."""
        node, found = self.node, 0
        for step in steps:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == step), None)
                if match is None:
                    break
                found, node = match[0].start_mark.line, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
                found = node.start_mark.line
            else:
                break
        return found + 2 if self.node is not None else 1

    def problem(self, reason: str, *steps: str | int) -> None:
        self.issues.append((self.line(*steps) if steps else 1, reason))

    def run(self) -> _Parsed:
        d = self.data
        for key in d:
            if key not in FIELDS:
                hint = difflib.get_close_matches(str(key), FIELDS, n=1)
                self.problem(
                    f"unknown field {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""), key
                )
        item_id = self.string("id", required=False) or self.path.stem
        if "id" not in d and not ID_PATTERN.fullmatch(item_id):
            self.problem(f"file name {item_id!r} is not a valid id: set an id field ([A-Za-z0-9._-])")
        elif "id" in d and not ID_PATTERN.fullmatch(item_id):
            self.problem(f"id {item_id!r} may hold only letters, digits, '.', '_' and '-'", "id")
        item_type = d.get("type", "article")
        if item_type not in ITEM_TYPES:
            self.problem(f"type must be one of {', '.join(ITEM_TYPES)}, not {item_type!r}", "type")
        title = self.string("title", required=False).strip()
        if "title" not in d:
            self.problem("missing title")
        elif not title:
            self.problem("title is empty", "title")
        lang = self.string("lang", required=False)
        if lang and not LANG_PATTERN.fullmatch(lang):
            self.problem(f"lang must be a two-letter language code such as nl or fr, not {lang!r}", "lang")
        if item_type != "escalation":
            for key in ESCALATION_ONLY_FIELDS:
                if key in d:
                    self.problem(f"{key} is only for escalation items (this one is an {item_type})", key)
        item = Item(
            id=item_id,
            type=item_type if item_type in ITEM_TYPES else "article",
            title=title,
            lang=lang,
            skills=self.string_list("skills"),
            keywords=self.string_list("keywords"),
            instructions=self.string("instructions", required=False).strip(),
            faq=self.faq(),
            escalations=self.string_list("escalations"),
            organisations=self.string_list("organisations"),
            updated=self.date("updated"),
            body=self.body,
            handling_days=self.handling_days(),
            contacts=self.contacts(),
        )
        if self.issues:
            raise _FileErrors(sorted(self.issues), item_id=item_id if ID_PATTERN.fullmatch(item_id) else None)
        links = [
            (key, target, self.line(key, index))
            for key in ("escalations", "organisations")
            for index, target in enumerate(getattr(item, key))
        ]
        id_line = self.line("id") if "id" in d else 1
        return _Parsed(item=item, path=self.path, source=self.source, links=links, id_line=id_line)

    def string(self, key: str, required: bool) -> str:
        value = self.data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problem(f"{key} must be text, not {_kind(value)}", key)
            return ""
        return value

    def string_list(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(f"{key} must be a list, not {_kind(value)}", key)
            return []
        out = []
        for index, entry in enumerate(value):
            if not isinstance(entry, str) or not entry.strip():
                self.problem(f"{key}[{index}] must be non-empty text, not {_kind(entry)}", key, index)
            elif key == "skills" and "|" in entry:
                self.problem(f"skills[{index}] may not contain '|'", key, index)
            else:
                out.append(entry.strip())
        return out

    def date(self, key: str) -> dt.date | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.problem(f"{key} must be a date (YYYY-MM-DD), not {value!r}", key)
        return None

    def handling_days(self) -> int | None:
        value = self.data.get("handling_days")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem(f"handling_days must be a whole number of days, not {value!r}", "handling_days")
            return None
        return value

    def faq(self) -> list[Faq]:
        out = []
        for index, entry in enumerate(self.mappings("faq", FAQ_FIELDS)):
            q, a = entry.get("q"), entry.get("a")
            if not isinstance(q, str) or not q.strip():
                self.problem(f"faq[{index}] needs a question q (text)", "faq", index)
            elif not isinstance(a, str) or not a.strip():
                self.problem(f"faq[{index}] needs an answer a (text)", "faq", index)
            else:
                out.append(Faq(q=q.strip(), a=a.strip()))
        return out

    def contacts(self) -> list[Contact]:
        out = []
        for index, entry in enumerate(self.mappings("contacts", CONTACT_FIELDS)):
            kind, value = entry.get("kind"), entry.get("value")
            flags = {k: entry.get(k, False) for k in ("agent_may_escalate", "give_to_citizen")}
            if kind not in CONTACT_KINDS:
                self.problem(
                    f"contacts[{index}].kind must be one of {', '.join(CONTACT_KINDS)}, not {kind!r}",
                    "contacts",
                    index,
                )
            elif not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
                self.problem(f"contacts[{index}] needs a value (text)", "contacts", index)
            elif any(not isinstance(flag, bool) for flag in flags.values()):
                self.problem(
                    f"contacts[{index}]: agent_may_escalate and give_to_citizen must be true or false",
                    "contacts",
                    index,
                )
            else:
                out.append(Contact(kind=kind, value=str(value).strip(), **flags))
        return out

    def mappings(self, key: str, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(f"{key} must be a list, not {_kind(value)}", key)
            return []
        out = []
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                self.problem(
                    f"{key}[{index}] must be a mapping ({', '.join(allowed)}), not {_kind(entry)}", key, index
                )
                continue
            unknown = [k for k in entry if k not in allowed]
            if unknown:
                self.problem(
                    f"{key}[{index}]: unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})",
                    key,
                    index,
                )
                continue
            out.append(entry)
        return out


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)
