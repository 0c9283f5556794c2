"""Quality gates a proposed problem must pass beyond parsing: not a duplicate of an earlier problem (exact,
by the domain's fingerprint, or near by MinHash), and not contaminated by a public benchmark. `Gates`
owns them and the keys of the problems already admitted; every domain's proposer applies it (it lives
here, in the domain layer, for that reason), and mine/loop.py builds one for each round."""

from __future__ import annotations

from ..datasets import DataError, bench_file, contamination_texts
from .code_text import code_tokens, ngrams


class ContaminationIndex:
    """n-gram overlap against every prompt and solution of a domain's benchmarks."""

    def __init__(self, texts: list[tuple[str, str]], n: int = 10, threshold: float = 0.5):
        self.n, self.threshold = n, threshold
        self.index: dict[tuple[str, ...], str] = {}
        for source, text in texts:
            for g in ngrams(text, n):
                self.index.setdefault(g, source)
        self.sources = len({s for s, _ in texts})

    def check(self, text: str) -> tuple[float, str] | None:
        """(overlap fraction, benchmark task) when the text is contaminated, else None."""
        grams = ngrams(text, self.n)
        if not grams or not self.index:
            return None
        hits = [self.index[g] for g in grams if g in self.index]
        frac = len(hits) / len(grams)
        if frac >= self.threshold:
            return frac, max(set(hits), key=hits.count)
        return None


class NearDuplicates:
    """MinHash LSH over 5-token shingles of the normalised code."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 64):
        from datasketch import MinHash, MinHashLSH

        self._MinHash, self.num_perm = MinHash, num_perm
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._keys: set[str] = set()

    def _hash(self, code: str):
        toks = code_tokens(code)
        minhash = self._MinHash(num_perm=self.num_perm, seed=1)
        for i in range(max(1, len(toks) - 4)):
            minhash.update(" ".join(toks[i : i + 5]).encode())
        return minhash

    def seen(self, code: str) -> list[str]:
        return self.lsh.query(self._hash(code))

    def add(self, key: str, code: str) -> None:
        if key not in self._keys:
            self._keys.add(key)
            self.lsh.insert(key, self._hash(code))


def index_for(benches, cfg) -> tuple[ContaminationIndex, dict]:
    """The n-gram index over the prompts and solutions of `benches`, and their checksums. Every one is
    needed: decontamination against a missing benchmark would be a silent hole."""
    sums = {}
    for name in benches:
        try:
            sums[name] = bench_file(name, cfg.data_dir)[1]
        except DataError as e:
            raise DataError(
                f"decontamination needs every benchmark ({e}); pass --data-dir DIR or set SELFMINE_DATA_DIR"
            ) from None
    texts = contamination_texts(cfg.data_dir, benches)
    return ContaminationIndex(texts, cfg.mine.contamination_ngram, cfg.mine.contamination_threshold), sums


class Gates:
    """Admission past a problem's own checks, and the keys of every problem admitted so far: the domain's
    fingerprints (exact duplicates), the near-duplicate index (each problem under its `name`) and the
    contamination index of the domain's benchmarks (None: not checked). A problem a proposer admits is
    recorded at once, so one round never admits the same problem twice."""

    def __init__(
        self, contamination: ContaminationIndex | None, *, fingerprints: set[str], near_threshold: float = 0.85
    ):
        self.contamination = contamination
        self.fingerprints = fingerprints
        self.near = NearDuplicates(near_threshold)

    @staticmethod
    def name(problem) -> str:
        """A problem's key in the near-duplicate index (what a near duplicate's detail names)."""
        return f"r{problem.round_id}p{problem.idx}"

    def passes(self, prob, fp: str, *, near_text: str, contam_text: str) -> bool:
        """Exact duplicate, near duplicate, benchmark contamination: sets the problem's fingerprint, and its
        reason and detail when a gate stops it."""
        prob.fingerprint = fp
        if fp in self.fingerprints:
            prob.reason = "duplicate"
            return False
        similar = self.near.seen(near_text)
        if similar:
            prob.reason, prob.detail = "near_duplicate", f"similar to problem {similar[0]}"
            return False
        hit = self.contamination.check(contam_text) if self.contamination is not None else None
        if hit:
            prob.reason, prob.detail = "contaminated", f"{hit[0]:.0%} of {self.contamination.n}-grams from {hit[1]}"
            return False
        return True

    def admit(self, prob, near_text: str) -> None:
        """Record an admitted problem (its fingerprint set by `passes`, or read from the ledger)."""
        self.fingerprints.add(prob.fingerprint)
        self.near.add(self.name(prob), near_text)
