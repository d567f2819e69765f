"""Benchmark of the embedded knowledge base: import 20 000 generated articles, then time typical searches.

    .venv/bin/python bench/kb.py [--articles 20000] [--runs 200] [--db PATH]

`--db PATH` keeps the imported database at PATH and, when PATH already exists, reuses it instead of importing
again (the generator still runs, without writing files, so that the queries are the same as in a full run).

Prints the import time (Markdown files -> importer -> SQLite) and p50/p99 search latency for 1-, 2- and
3-term queries, prefix (as-you-type) queries, the empty query and a skill-filtered query, measured both on the
blocking call (`search_sync`: the SQL itself) and through the async API (thread hop included). Target: p99 < 10 ms.
The text is deterministic (seeded) Dutch-like words, so runs are comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kb_client.importer import import_folder
from kb_client.sqlite_backend import SqliteKnowledgeBase

ONSETS = [
    "b",
    "d",
    "g",
    "k",
    "v",
    "w",
    "z",
    "st",
    "sch",
    "br",
    "kl",
    "gr",
    "tr",
    "pl",
    "h",
    "m",
    "n",
    "r",
    "l",
    "p",
]
VOWELS = ["a", "e", "i", "o", "u", "aa", "ee", "oo", "ie", "oe", "ui", "ij", "ou", "eu"]
CODAS = ["", "n", "t", "k", "r", "l", "s", "ng", "cht", "rd", "nd", "m"]
SKILLS = ["vaccination", "info", "tax", "mobility"]


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.choice([1, 2, 2, 3, 3, 4])
        words.add(
            "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
        )
    # Shuffled, so that frequency rank (Zipf, below) has nothing to do with spelling: otherwise every frequent
    # word would share its first letters and any short prefix would hit the whole corpus.
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered


def zipf_picker(rng: random.Random, words: list[str]) -> Callable[[], str]:
    """Word frequencies follow Zipf's law, as in real text: a few very common words, a long tail."""
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    cumulative: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    return lambda: rng.choices(words, cum_weights=cumulative, k=1)[0]


def write_articles(folder: Path | None, count: int, rng: random.Random, pick: Callable[[], str]) -> None:
    """Write `count` articles into `folder`; with None, only draw them (same random state afterwards)."""
    for n in range(count):
        title = " ".join(pick() for _ in range(rng.randint(2, 6))).capitalize()
        keywords = ", ".join(f"'{pick()}'" for _ in range(rng.randint(0, 5)))
        skills = ", ".join(rng.sample(SKILLS, rng.randint(0, 2)))
        paragraphs = [
            " ".join(pick() for _ in range(rng.randint(20, 60))).capitalize() + "."
            for _ in range(rng.randint(1, 5))
        ]
        faq = "".join(
            f"  - q: {' '.join(pick() for _ in range(6)).capitalize()}?\n    a: {' '.join(pick() for _ in range(15))}\n"
            for _ in range(rng.randint(0, 3))
        )
        text = (
            f"---\ntitle: {title}\nskills: [{skills}]\nkeywords: [{keywords}]\n"
            f"instructions: {' '.join(pick() for _ in range(10))}\n"
            + (f"faq:\n{faq}" if faq else "")
            + "---\n"
            + "\n\n".join(paragraphs)
            + "\n"
        )
        if folder is not None:
            (folder / f"a{n:05d}.md").write_text(text, encoding="utf-8")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def build_queries(
    rng: random.Random, words: list[str], runs: int
) -> dict[str, list[tuple[str, str | None, str]]]:
    """(q, skill, tab) per query kind. "Typical" terms are content words (frequency rank 50-3000): what agents
    type. The last rows are the stress cases: stop-word-like terms (the 20 most frequent words, in nearly every
    article) and two-letter prefixes."""
    content = words[50:3000]

    def prefix(word: str) -> str:
        return word[: rng.randint(3, 5)]

    return {
        "1 term": [(rng.choice(content), None, "articles") for _ in range(runs)],
        "2 terms": [(" ".join(rng.sample(content[:1500], 2)), None, "articles") for _ in range(runs)],
        "3 terms": [(" ".join(rng.sample(content[:1000], 3)), None, "articles") for _ in range(runs)],
        "prefix 3-5 chars": [(prefix(rng.choice(content)), None, "articles") for _ in range(runs)],
        "term + prefix": [
            (f"{rng.choice(content)} {prefix(rng.choice(content))}", None, "articles") for _ in range(runs)
        ],
        "1 term, faq tab": [(rng.choice(content), None, "faq") for _ in range(runs)],
        "1 term + skill": [(rng.choice(content), rng.choice(SKILLS), "articles") for _ in range(runs)],
        "empty query": [("", None, "articles") for _ in range(runs)],
        "empty q + skill": [("", rng.choice(SKILLS), "articles") for _ in range(runs)],
        "stress: stop word": [(rng.choice(words[:20]), None, "articles") for _ in range(runs)],
        "stress: 2 letters": [(rng.choice(content)[:2], None, "articles") for _ in range(runs)],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--db", type=Path, help="keep the database here; reuse it (no import) if it exists")
    args = parser.parse_args()
    rng = random.Random(20240301)
    words = make_vocabulary(rng, 8000)
    pick = zipf_picker(rng, words)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = args.db or Path(tmp) / "kb.db"
        reuse = args.db is not None and args.db.exists()
        if reuse:
            write_articles(None, args.articles, rng, pick)
            kb = SqliteKnowledgeBase(db_path)
            print(f"reusing {db_path} (no import)")
        else:
            folder = Path(tmp) / "kb"
            folder.mkdir()
            started = time.perf_counter()
            write_articles(folder, args.articles, rng, pick)
            print(f"generated {args.articles} Markdown files in {time.perf_counter() - started:.1f} s")
            kb = SqliteKnowledgeBase(db_path)
            started = time.perf_counter()
            report = import_folder(kb, folder)
            elapsed = time.perf_counter() - started
            print(
                f"import: {report.imported} items in {elapsed:.1f} s ({report.imported / elapsed:.0f} items/s), "
                f"{len(report.errors)} errors; database {db_path.stat().st_size / 1e6:.0f} MB"
            )
            for issue in report.errors[:5]:
                print(f"  {issue}")
            started = time.perf_counter()
            again = import_folder(kb, folder)
            print(
                f"re-import (nothing changed): {again.unchanged} unchanged in {time.perf_counter() - started:.1f} s"
            )
        for _ in range(300):
            item_id, skill = f"a{rng.randrange(args.articles):05d}", rng.choice(SKILLS)
            if not reuse:
                await kb.record_use(item_id, skill=skill)

        print(
            f"\n{'query kind':<20} {'sync p50':>9} {'sync p99':>9} {'async p50':>10} {'async p99':>10}  avg hits"
        )
        for kind, queries in build_queries(rng, words, args.runs).items():
            sync_ms, async_ms, hits = [], [], []
            for q, skill, tab in queries:
                t0 = time.perf_counter()
                page = kb.search_sync(q, tab, skill)
                sync_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                await kb.search(q, tab, skill)
                async_ms.append((time.perf_counter() - t0) * 1000)
                hits.append(page.counts[tab])
            print(
                f"{kind:<20} {percentile(sync_ms, 50):>7.2f}ms {percentile(sync_ms, 99):>7.2f}ms "
                f"{percentile(async_ms, 50):>8.2f}ms {percentile(async_ms, 99):>8.2f}ms  {statistics.mean(hits):>8.0f}"
            )
        await kb.close()


if __name__ == "__main__":
    asyncio.run(main())
