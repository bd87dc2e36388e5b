"""Duplicate-read suppression per lane: one vehicle, one pass — and never a vehicle lost.

Cameras report one vehicle several times (several triggers, a refined read, a resend after a
lost reply). The rule (README, *What counts as a duplicate*):

- the same camera record id with the same plate and colour on the lane is always the same
  read, however long ago (found in the ledger, so also after a restart: ``Store.find_read``);
- the same plate and colour within the window is the same vehicle;
- a plate one edit away with the same colour is the same vehicle only while the earlier
  vehicle may still stand at the barrier — its pass is *open* (not yet confirmed) or the
  barrier was not lifted for it (refused: it has to back away first) — and within the window:
  ``豫G88362挂`` after ``豫G88361挂`` has passed is the fleet's next trailer, but a misread of
  a refused truck is that truck again, never a new vehicle to decide on;
- a read without a plate (no plate, or a read that is not one) within the window of the
  lane's last such pass is that vehicle again until the barrier lifts for it or for a later
  pass: such a vehicle is always refused, so it is still at the barrier. (Each was a pass of
  its own: a camera, or a host posing as one, sending unreadable reads faster than one a
  second took the lane's serial numbers ahead of the clock, one second a read.)

This module is the in-memory index of the second and third rules. It learns a pass only once
the pass is committed (:meth:`Deduplicator.learn`), so a read whose commit failed is never
called a duplicate when the camera retries it.

Near matches are found through "deletion keys" (the plate and each string made by deleting
one character: two plates within one edit always share one), hashed with polynomial rolling
hashes so that all keys of a plate cost O(length) together; candidates sharing a key are
confirmed with :func:`~edge.domain.plates.within_one_edit`. Memory is bounded by the window and by
``max_entries``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from edge.domain.plates import within_one_edit

_MOD = (1 << 61) - 1
_BASE = 1_000_003
#: A key is one int, ``length << 61 | hash`` (a hash is below 2**61 - 1): a (length, hash)
#: tuple cost two objects more per key.
_HASH_BITS = 61

#: Passes a lane's index holds at most (far above a lane's traffic in any window).
MAX_ENTRIES = 4096


def deletion_keys(plate: str) -> set[tuple[int, int]]:
    """(length, hash) of ``plate`` and of each string made by deleting one of its characters,
    in O(len(plate)) arithmetic steps (no string is built)."""
    return {(key >> _HASH_BITS, key & _MOD) for key in _keys(plate)[1]}


def _keys(plate: str) -> tuple[int, set[int]]:
    """The key of ``plate`` itself, and all of :func:`deletion_keys` (it among them), each as
    one int."""
    n = len(plate)
    codes = [ord(ch) for ch in plate]
    prefix = [0] * (n + 1)
    for i, code in enumerate(codes):
        prefix[i + 1] = (prefix[i] * _BASE + code) % _MOD
    suffix = [0] * (n + 1)
    power = [1] * (n + 1)
    for i in range(n - 1, -1, -1):
        power[n - i] = power[n - i - 1] * _BASE % _MOD
        suffix[i] = (codes[i] * power[n - i - 1] + suffix[i + 1]) % _MOD
    shorter = (n - 1) << _HASH_BITS
    whole = n << _HASH_BITS | prefix[n]
    keys = {whole}
    for i in range(n):
        keys.add(shorter | (prefix[i] * power[n - i - 1] + suffix[i + 1]) % _MOD)
    return whole, keys


@dataclass(slots=True)
class Earlier:
    """A committed pass a later read may be merged into."""

    pass_id: int
    serial: str
    plate: str
    color: str
    at: float  # monotonic seconds of its read
    open: bool = True


class Deduplicator:
    def __init__(self, window_seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.window, self.max_entries = window_seconds, max_entries
        # Each pass's keys as a tuple of ints; under a key the one pass that has it (nearly
        # always), else a dict of them by id. With a set of (length, hash) tuples per pass
        # and a dict under every key, a pass cost ~4.4 KB — 17 MiB for a lane's 4,096, which
        # back-to-back traffic fills (issue 19's steady RSS); now ~1.9 KB.
        self._entries: OrderedDict[int, tuple[Earlier, tuple[int, ...]]] = OrderedDict()
        self._by_key: dict[int, Earlier | dict[int, Earlier]] = {}
        #: The lane's last pass without a plate (its ``plate`` is ""), while it may match.
        self._plateless: Earlier | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def _with_key(self, key: int) -> Iterable[Earlier]:
        found = self._by_key.get(key)
        if found is None:
            return ()
        return found.values() if isinstance(found, dict) else (found,)

    def _forget(self, pass_id: int) -> None:
        _entry, keys = self._entries.pop(pass_id)
        for key in keys:
            found = self._by_key.get(key)
            if isinstance(found, dict):
                found.pop(pass_id, None)
                if len(found) == 1:
                    self._by_key[key] = next(iter(found.values()))
            elif found is not None and found.pass_id == pass_id:
                del self._by_key[key]

    def _expire(self, now: float) -> None:
        if self._plateless is not None and now - self._plateless.at > self.window:
            self._plateless = None
        while self._entries:
            oldest, _ = next(iter(self._entries.values()))
            if now - oldest.at <= self.window:
                break
            self._forget(oldest.pass_id)

    def match(self, plate: str | None, color: str, now: float) -> Earlier | None:
        """The earlier pass (monotonic time ``now``) a read of ``plate`` in ``color`` belongs
        to: the same plate within the window, or one edit away while that pass is open; for a
        read without a plate (``None``), the lane's last pass without one while it is open
        and within the window (any colour: a camera that cannot read the plate guesses it)."""
        self._expire(now)
        if self.window <= 0:
            return None
        if plate is None:
            kept = self._plateless
            return kept if kept is not None and kept.open else None
        near: Earlier | None = None
        whole, keys = _keys(plate)
        for key in (whole, *keys):  # the same plate first: the answer whenever it is there
            for earlier in self._with_key(key):
                if earlier.color != color or not within_one_edit(plate, earlier.plate):
                    continue
                if earlier.plate == plate:
                    return earlier
                if earlier.open and near is None:
                    near = earlier
        return near

    def learn(self, earlier: Earlier) -> None:
        """Remember a pass once it is committed (never before: see the module's docstring);
        one without a plate has ``plate`` "" and replaces the one kept before it."""
        if self.window <= 0:
            return
        if not earlier.plate:
            kept = self._plateless
            if kept is None or kept.pass_id <= earlier.pass_id:
                self._plateless = earlier
            return
        if earlier.pass_id in self._entries:
            self._forget(earlier.pass_id)
        while len(self._entries) >= self.max_entries:
            self._forget(next(iter(self._entries)))
        keys = tuple(_keys(earlier.plate)[1])
        self._entries[earlier.pass_id] = (earlier, keys)
        for key in keys:
            found = self._by_key.get(key)
            if found is None:
                self._by_key[key] = earlier
            elif isinstance(found, dict):
                found[earlier.pass_id] = earlier
            else:
                self._by_key[key] = {found.pass_id: found, earlier.pass_id: earlier}

    def close(self, pass_id: int) -> None:
        """The barrier was lifted for the pass and the vehicle passed or the wait timed out:
        near reads are new vehicles. (Not called for a refused pass: its vehicle is still
        at the barrier.) The lane's last pass without a plate is closed too when it is this
        pass or an earlier one: the barrier lifted after that vehicle came, so it is gone
        (a pass before it, confirmed late, says nothing of it)."""
        kept = self._plateless
        if kept is not None and kept.pass_id <= pass_id:
            kept.open = False
        entry = self._entries.get(pass_id)
        if entry is not None:
            entry[0].open = False
