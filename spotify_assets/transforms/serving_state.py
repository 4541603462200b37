"""The serving store's state as pure functions: what a build from scratch, in chronological order,
from the lake produces, and the small records that let a store reach the same state from
partitions arriving in any order. No Dagster, no AWS, no SQLite here.

**The rule.** The serving store equals a chronological build: partitions applied in order of
(week, playlist_id), each upserting its entity rows and replacing its playlist's entries. So:
- an entity row (artist, album, song) is the one from the newest week that holds its key; within
  one week the greatest ``playlist_id`` wins (it is applied last);
- ``songs.song_added`` is the earliest ``song_added`` any partition holds for the song;
- an entity no partition holds is not served;
- a playlist's entries are those of its newest week, and so is its own row in ``playlists``
  (name, owner, total, ...): only the playlist's own partitions hold it, one row each.

**Histories.** To decide from the store alone, a store keeps, for each entity key and playlist,
the key's *history* in that playlist: which served weeks of the playlist held the key, and with
which row. It is kept as *runs*: ``(first_week, last_week, digest)``, every served week of the
playlist from ``first_week`` to ``last_week`` held a row whose digest is ``digest``; a
``last_week`` of None runs to the playlist's newest served week. A playlist whose new week holds
what the last one did changes no run, so an unchanged week writes nothing; a run claims only the
weeks the playlist has served, so runs written for a week not yet recorded as served mean what
they meant before (a writer killed half way leaves nothing wrong behind).

**Entries.** A served entry has an order key (a string; the playlist's order is the keys' order,
position is derived when reading), so an insertion, a removal or a move writes one entry,
whatever its position: see :func:`plan_entries`.
"""

import hashlib
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

ENTITY_KEYS = {"artists": "artist_id", "albums": "album_id", "songs": "song_id"}
PLAYLISTS = "playlists"
PLAYLIST_ID = "playlist_id"
# The tables served one row per key: the entities, and each playlist's own row.
KEY_COLUMNS = {**ENTITY_KEYS, PLAYLISTS: PLAYLIST_ID}
KEEP_EARLIEST = {"songs": "song_added"}
# What makes an entry the same entry from one week to the next: the track (or episode, or local
# file) and when and by whom it was added. Two copies of a track added at the same moment are
# matched in order.
ENTRY_IDENTITY = ("item_type", "song_id", "uri", "added_at", "added_by")
# Columns that hold one value for the whole snapshot: kept once per playlist version.
SNAPSHOT_COLUMNS = ("snapshot_id",)
POSITION = "position"

Run = tuple[str, str | None, str]  # first week, last week (None: the newest served), digest


def digest(values: object) -> str:
    """A short digest of plain values: equal digests mean equal values."""
    return hashlib.blake2b(repr(values).encode("utf-8"), digest_size=12).hexdigest()


def row_digest(row: Mapping) -> str:
    return digest(tuple(sorted(row.items())))


# --- histories ------------------------------------------------------------------------------


def decode_runs(runs: Sequence[Run], weeks: Sequence[str]) -> dict[str, str]:
    """The digest held at each served week (``weeks``, sorted) that the runs claim."""
    history = {}
    newest = weeks[-1] if weeks else None
    for first, last, run_digest in runs:
        last = newest if last is None else last
        for week in weeks:
            if last is not None and first <= week <= last:
                history[week] = run_digest
    return history


def encode_runs(history: Mapping[str, str], weeks: Sequence[str]) -> list[Run]:
    """The runs of a history over the served weeks (sorted): consecutive served weeks with the
    same digest make one run; the run that reaches the newest week stays open (None)."""
    runs: list[list] = []
    previous_held = False
    for week in weeks:
        held = history.get(week)
        if held is not None and previous_held and runs[-1][2] == held:
            runs[-1][1] = week
        elif held is not None:
            runs.append([week, week, held])
        previous_held = held is not None
    if runs and weeks and runs[-1][1] == weeks[-1]:
        runs[-1][1] = None
    return [tuple(run) for run in runs]


def with_week(
    runs: Sequence[Run], weeks: Sequence[str], week: str, held: str | None
) -> tuple[list[Run], list[str]]:
    """The runs and served weeks after ``week`` is served holding ``held`` (None: not held)."""
    history = decode_runs(runs, weeks)
    if held is None:
        history.pop(week, None)
    else:
        history[week] = held
    new_weeks = sorted({*weeks, week})
    return encode_runs(history, new_weeks), new_weeks


@dataclass(frozen=True)
class Contribution:
    """One playlist's history of one entity key, with the rows its runs name."""

    runs: tuple[Run, ...]
    rows: Mapping[str, dict]  # digest -> row
    weeks: tuple[str, ...]  # the playlist's served weeks


def served_row(table: str, contributions: Mapping[str, Contribution]) -> dict | None:
    """The row a chronological build serves for one key, from each playlist's history of it;
    None when no served week holds the key."""
    newest: tuple[str, str, str] | None = None
    earliest_column = KEEP_EARLIEST.get(table)
    earliest = []
    for playlist_id, contribution in contributions.items():
        history = decode_runs(contribution.runs, contribution.weeks)
        for week, held in history.items():
            if newest is None or (week, playlist_id) > newest[:2]:
                newest = (week, playlist_id, held)
            if earliest_column:
                value = contribution.rows[held][earliest_column]
                if value is not None:
                    earliest.append(value)
    if newest is None:
        return None
    row = dict(contributions[newest[1]].rows[newest[2]])
    if earliest_column:
        row[earliest_column] = min(earliest, default=None)
    return row


# --- the reference build --------------------------------------------------------------------


@dataclass
class ServingState:
    """What a serving store serves: entity rows by table and key, each playlist's newest week
    with its entries (in position order, without the snapshot columns) and snapshot, and each
    playlist's own row (see :func:`playlist_row`) by playlist id."""

    entities: dict[str, dict[str, dict]] = field(
        default_factory=lambda: {table: {} for table in ENTITY_KEYS}
    )
    entries: dict[str, tuple[str, list[dict], dict]] = field(default_factory=dict)
    playlists: dict[str, dict] = field(default_factory=dict)


def playlist_row(playlist_id: str, rows: Sequence[Mapping]) -> dict:
    """The row ``playlists`` serves for a playlist from one partition's rows of the lake's
    ``playlists``: its one row (a snapshot's attributes; an emptied playlist's has total 0), with
    ``playlist_id`` first. Raises ValueError unless there is exactly one."""
    if len(rows) != 1:
        raise ValueError(f"{PLAYLISTS} holds one row per snapshot, not {len(rows)}")
    return {PLAYLIST_ID: playlist_id, **rows[0]}


def split_snapshot(rows: Sequence[Mapping]) -> tuple[list[dict], dict]:
    """Entries without their position and snapshot columns, and the snapshot's values."""
    entries = [
        {k: v for k, v in row.items() if k not in SNAPSHOT_COLUMNS and k != POSITION}
        for row in sorted(rows, key=lambda row: row[POSITION])
    ]
    snapshot = {column: rows[0][column] for column in SNAPSHOT_COLUMNS} if rows else {}
    return entries, snapshot


def chronological_build(
    partitions: Iterable[tuple[str, str, Mapping[str, Sequence[Mapping]]]],
) -> ServingState:
    """The serving state built from scratch: ``partitions`` are ``(playlist_id, week, tables)``
    with the normalized tables' rows of each partition, in any order."""
    state = ServingState()
    for playlist_id, week, tables in sorted(partitions, key=lambda p: (p[1], p[0])):
        for table, key in ENTITY_KEYS.items():
            earliest_column = KEEP_EARLIEST.get(table)
            for row in tables.get(table, []):
                row = dict(row)
                stored = state.entities[table].get(row[key])
                if earliest_column and stored is not None:
                    values = (row[earliest_column], stored[earliest_column])
                    known = [v for v in values if v is not None]
                    row[earliest_column] = min(known, default=None)
                state.entities[table][row[key]] = row
        if PLAYLISTS in tables:
            state.playlists[playlist_id] = playlist_row(playlist_id, tables[PLAYLISTS])
        if "playlist_entries" in tables:
            entries, snapshot = split_snapshot(tables["playlist_entries"])
            state.entries[playlist_id] = (week, entries, snapshot)
    return state


# --- entries and their order keys -----------------------------------------------------------

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # in byte order
BASE = len(DIGITS)
# A key longer than this makes the next write give the whole playlist evenly spaced keys again.
# Repeated insertions at one place lengthen a key by one digit in about six; at the top or the
# end, by one in sixty.
MAX_KEY_LENGTH = 12


def _digit(key: str, index: int) -> int:
    return DIGITS.index(key[index]) if index < len(key) else 0


def key_between(low: str | None, high: str | None) -> str:
    """A key strictly between two keys (None: no bound). Keys are base-62 fractions written
    without trailing zeros, so there is always room between two of them."""
    if low is not None and high is not None and not low < high:
        raise ValueError(f"{low!r} is not before {high!r}")
    if low is None and high is not None:
        return _key_before(high)
    low = low or ""
    if high is None:  # after the last key: the first digit that can grow, grows
        for index in range(len(low) + 1):
            digit_ = _digit(low, index)
            if digit_ < BASE - 1:
                return low[:index] + DIGITS[digit_ + 1]
        raise AssertionError("unreachable")
    prefix = 0
    while prefix < len(high) and _digit(low, prefix) == _digit(high, prefix):
        prefix += 1
    head = high[:prefix]
    if prefix >= len(low):  # low ends here: step down from high's rest, as at the top
        return head + _key_before(high[prefix:])
    lower, upper = _digit(low, prefix), _digit(high, prefix)
    if upper - lower > 1:
        return head + DIGITS[(lower + upper) // 2]
    if prefix + 1 < len(high):  # high continues: its digit alone is between
        return head + DIGITS[upper]
    return head + DIGITS[lower] + key_between(low[prefix + 1 :] or None, None)


def _key_before(high: str) -> str:
    """A key before ``high``: its first digit less one, so that insertions at the top lengthen
    keys by one digit in sixty."""
    first = DIGITS.index(high[0])
    if first > 1:
        return DIGITS[first - 1]
    if first == 1:
        return "1" if len(high) > 1 else "0" + DIGITS[-1]
    return "0" + _key_before(high[1:])


def keys_between(low: str | None, high: str | None, count: int) -> list[str]:
    """``count`` increasing keys strictly between two keys."""
    if count == 0:
        return []
    if high is None or low is None:  # step away from the open end, one key after another
        keys: list[str] = []
        if high is None:
            for _ in range(count):
                keys.append(key_between(keys[-1] if keys else low, None))
            return keys
        for _ in range(count):
            keys.insert(0, key_between(None, keys[0] if keys else high))
        return keys
    middle = key_between(low, high)
    half = count // 2
    return [
        *keys_between(low, middle, half),
        middle,
        *keys_between(middle, high, count - half - 1),
    ]


def even_keys(count: int) -> list[str]:
    """``count`` keys spread evenly: a playlist's keys when it is first served or rebalanced."""
    length = 1
    while BASE**length < count + 1:
        length += 1
    length += 1  # room to insert between neighbours without lengthening
    keys = []
    for index in range(1, count + 1):
        value = index * BASE**length // (count + 1)
        text = ""
        for _ in range(length):
            value, remainder = divmod(value, BASE)
            text = DIGITS[remainder] + text
        keys.append(text.rstrip("0"))
    return keys


@dataclass(frozen=True)
class StoredEntry:
    """A served entry as the store keeps it."""

    entry_id: str
    order_key: str
    row: dict  # the entry's columns, without position and the snapshot columns


@dataclass
class EntriesPlan:
    """What turns a playlist's served entries into a new snapshot: new entries, entries whose
    order key or content changed (by id), and entries removed; ``rebalanced`` when every key
    was given anew because one grew too long."""

    puts: list[StoredEntry] = field(default_factory=list)
    updates: list[StoredEntry] = field(default_factory=list)
    deletes: list[StoredEntry] = field(default_factory=list)
    unchanged: int = 0
    rebalanced: bool = False

    @property
    def changes(self) -> int:
        return len(self.puts) + len(self.updates) + len(self.deletes)


def _increasing_subsequence(values: Sequence[int]) -> set[int]:
    """Indexes of a longest strictly increasing subsequence of ``values``."""
    tails: list[int] = []  # index in values of the smallest tail of each length
    previous = [-1] * len(values)
    for index, value in enumerate(values):
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if values[tails[middle]] < value:
                low = middle + 1
            else:
                high = middle
        previous[index] = tails[low - 1] if low else -1
        if low == len(tails):
            tails.append(index)
        else:
            tails[low] = index
    kept = set()
    index = tails[-1] if tails else -1
    while index != -1:
        kept.add(index)
        index = previous[index]
    return kept


def plan_entries(stored: Sequence[StoredEntry], rows: Sequence[Mapping]) -> EntriesPlan:
    """The fewest entry writes that turn ``stored`` (in order) into ``rows`` (in order, without
    position and snapshot columns): entries are matched by :data:`ENTRY_IDENTITY`; the longest
    run of matched entries still in order keeps its keys; every other entry gets a key between
    its neighbours: an insertion, a removal or a move costs one write."""
    by_identity: dict[tuple, deque[int]] = defaultdict(deque)
    for index, entry in enumerate(stored):
        by_identity[tuple(entry.row.get(c) for c in ENTRY_IDENTITY)].append(index)
    matches = []
    for row in rows:
        queue = by_identity.get(tuple(row.get(c) for c in ENTRY_IDENTITY))
        matches.append(queue.popleft() if queue else None)
    matched = [(new, old) for new, old in enumerate(matches) if old is not None]
    in_order = _increasing_subsequence([old for _, old in matched])
    anchored = {matched[index][0] for index in in_order}
    plan = EntriesPlan()
    used = {old for old in matches if old is not None}
    plan.deletes = [entry for index, entry in enumerate(stored) if index not in used]
    keys: list[str | None] = [
        stored[matches[new]].order_key if new in anchored else None for new in range(len(rows))
    ]
    new = 0
    while new < len(rows):
        if keys[new] is not None:
            new += 1
            continue
        end = new
        while end < len(rows) and keys[end] is None:
            end += 1
        low = keys[new - 1] if new else None
        high = keys[end] if end < len(rows) else None
        keys[new:end] = keys_between(low, high, end - new)
        new = end
    if any(len(key) > MAX_KEY_LENGTH for key in keys):
        keys = even_keys(len(rows))
        plan.rebalanced = True
    # A new entry takes the item of a removed one where there is one: a replaced track is one
    # write, not a removal and an insertion.
    reusable = deque(plan.deletes)
    plan.deletes = []
    for index, row in enumerate(rows):
        old = matches[index]
        if old is None and reusable:
            reused = reusable.popleft()
            plan.updates.append(StoredEntry(reused.entry_id, keys[index], dict(row)))
            continue
        if old is None:
            plan.puts.append(StoredEntry(uuid.uuid4().hex[:16], keys[index], dict(row)))
            continue
        entry = stored[old]
        if entry.order_key == keys[index] and entry.row == dict(row):
            plan.unchanged += 1
        else:
            plan.updates.append(StoredEntry(entry.entry_id, keys[index], dict(row)))
    plan.deletes = list(reusable)
    return plan
