"""What every backend takes and returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..seeds import mix_seed


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        self.stop = [s for s in self.stop if s]

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" (a stop string or end of sequence) | "length"
    prompt_tokens: int
    completion_tokens: int
    stop_string: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def cut_at_stop(text: str, stops: list[str], start: int = 0) -> tuple[str, str] | None:
    """(text before the earliest stop string at or after `start`, that stop) or None. Never cuts inside
    a stop: the earliest full match wins, the longest on ties."""
    best: tuple[int, str] | None = None
    for s in stops:
        i = text.find(s, start)
        if i != -1 and (best is None or i < best[0] or (i == best[0] and len(s) > len(best[1]))):
            best = (i, s)
    if best is None:
        return None
    return text[: best[0]], best[1]


def prompt_seeds(params: SamplingParams, count: int, seeds: list[int] | None = None) -> list[int]:
    """Each prompt's own sampling seed: the caller's, or one drawn from (params.seed, the prompt's index).
    A prompt's samples depend only on its seed, never on which other prompts share its batch, call or
    machine, so sharding, chunking and resuming give the same samples."""
    if seeds is None:
        return [mix_seed(params.seed, i) for i in range(count)]
    if len(seeds) != count:
        raise ValueError(f"{len(seeds)} seeds for {count} prompts")
    return [int(s) for s in seeds]
