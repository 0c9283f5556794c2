"""Run configuration: YAML files validated by pydantic, CLI overrides as `section.key=value`.
Errors name the bad key and value in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import UserError


class Section(BaseModel):
    """The base of every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# -- training (the recipe's defaults, RESEARCH.md; every one a CLI option and a config key) --
CONTROLS = ("none", "corrupted", "shuffled", "rft", "format")


class TrainConfig(Section):
    method: Literal["sft", "dpo"] = "sft"
    format: Literal["repair", "solve", "mixed"] = "repair"
    control: Literal["none", "corrupted", "shuffled", "rft", "format", "overcorrect"] = "none"
    keep_correct: float = Field(0.0, ge=0, description="keep-correct examples per pair (0.5 = one per two pairs)")
    classes: Optional[list[str]] = None  # keep only pairs whose broken side is of these classes
    drop_classes: list[str] = Field(default_factory=list)  # e.g. ["format"]
    first_n: Optional[int] = Field(None, ge=1, description="use the first N pairs (sweeps)")
    rank: int = Field(16, ge=1)
    alpha: Optional[int] = Field(None, ge=1, description="default: 2 x rank")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    lr: float = Field(1e-4, gt=0)
    epochs: float = Field(2.0, gt=0)
    batch_size: int = Field(1, ge=1)
    grad_accum: int = Field(4, ge=1)
    max_tokens: int = Field(1024, ge=32)
    dpo_beta: float = Field(0.1, gt=0)
    gradient_checkpointing: bool = False  # on for big models on small GPUs
    dtype: str = "auto"  # auto: bf16 on GPUs and on CPUs with native bf16, else fp32
    chat: bool = False
    seed: int = 0


class ConfigError(UserError):
    """A config the user must fix. The message is one line."""


class EngineConfig(Section):
    backend: Literal["auto", "hf", "vllm", "openai"] = Field(
        "auto",
        description="auto: per job (greedy or sampling), the backend measured fastest on this kind of machine "
        "(engine/auto.py; hf where vLLM is not installed or not measured faster)",
    )
    model: Optional[str] = None  # None: the embedded gemma-3-270m base
    dtype: str = "auto"
    batch_size: int = Field(32, ge=1)
    base_url: Optional[str] = None  # openai backend
    tensor_parallel_size: int = Field(
        1,
        ge=1,
        description="vllm backend: GPUs per engine (a 72B model needs several); on a Ray cluster, "
        "each engine actor reserves this many GPUs of one node",
    )

    def backend_kwargs(self, backend: str | None = None) -> dict:
        """The settings that apply to the chosen backend (`backend`, for `auto` once resolved), as
        `get_engine` keyword arguments."""
        backend = backend or self.backend
        if backend == "hf":
            return {"dtype": self.dtype, "batch_size": self.batch_size}
        if backend == "openai":
            return {"base_url": self.base_url}
        if backend == "vllm":
            extra = {"tensor_parallel_size": self.tensor_parallel_size} if self.tensor_parallel_size > 1 else {}
            return {"dtype": self.dtype, "batch_size": self.batch_size, **extra}
        return {}


class MineConfig(Section):
    problems: int = Field(16, ge=1, description="problem proposals to generate per round")
    propose_batch: int = Field(16, ge=1, description="proposals generated (and committed) together")
    propose_temperature: float = Field(0.9, ge=0)
    propose_top_p: float = Field(0.95, gt=0, le=1)
    propose_max_tokens: int = Field(256, ge=16)
    min_asserts: int = Field(3, ge=1)
    attempts: int = Field(8, ge=1, description="solve attempts per valid problem (k)")
    solve_temperature: float = Field(0.8, ge=0)
    solve_top_p: float = Field(0.95, gt=0, le=1)
    solve_max_tokens: int = Field(256, ge=16)
    repair: bool = True
    repair_attempts: int = Field(4, ge=1)
    pairs_per_problem: int = Field(4, ge=1)
    judge_timeout: float = Field(5.0, gt=0)
    judge_memory_mb: int = Field(1024, ge=64)
    contamination_ngram: int = Field(10, ge=3)
    contamination_threshold: float = Field(0.5, gt=0, le=1)
    near_duplicate_threshold: float = Field(0.85, gt=0, le=1)
    salvage_asserts: bool = Field(
        False,
        description="tests: model only. Keep a problem whose own body passes only "
        "some of its asserts, with just those asserts (if at least min_asserts remain)",
    )
    chat: bool = False
    tests: Literal["grounded", "model"] = Field(
        "grounded",
        description="grounded: expected values come from running "
        "the model's function on its calls and on mutated inputs; model: the "
        "model's own asserts (the reference recipe)",
    )
    generated_inputs: int = Field(
        16,
        ge=0,
        description="grounded: inputs made by mutating the model's calls (or drawn "
        "from the signature when it wrote none)",
    )
    visible_tests: int = Field(3, ge=1, description="grounded: asserts shown in the solve prompt")
    hidden_tests: int = Field(5, ge=0, description="grounded: further asserts only the judge uses")
    adapter: Optional[str] = Field(
        None,
        description="expert iteration: mine with this PEFT LoRA adapter applied to every request (the previous "
        "iteration's, e.g. RUN/adapters/selfmine; on the openai backend its served name); its weights' checksum "
        "is part of the mining settings",
    )
    ask_for_calls: bool = Field(
        True, description="grounded: one short follow-up prompt for calls when the model wrote fewer than min_asserts"
    )
    own_examples: int = Field(
        2,
        ge=0,
        description="few-shot examples drawn from the model's own valid problems once "
        "it has some (at least one shipped example always stays)",
    )
    rounds: int = Field(
        1,
        ge=1,
        description="mining rounds; from round 2 on, the curriculum proposes harder variants "
        "of all-pass problems and easier variants of all-fail ones",
    )
    variant_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="at most this share of a later round's proposals are curriculum variants; the rest are fresh",
    )
    canonical_pairs: bool = Field(
        False,
        description="for a problem no attempt or repair solved, pair its failing "
        "attempts with the proposer's own function (model-written, judged twice); labelled "
        "'canonical'. Off: the reference recipe mines only mixed outcomes and repairs",
    )
    target_pairs: Optional[int] = Field(
        None, ge=1, description="stop mining after the round that reaches this many (broken, fixed) pairs"
    )
    math_answers: Literal["agree", "program"] = Field(
        "agree",
        description="math: agree (a problem is valid when its program's value and its stated answer are "
        "equivalent) | program (the sandboxed program's value is the label, as grounded tests are for code)",
    )
    greedy_probe: bool = Field(
        False,
        description="one greedy attempt per valid problem besides the samples; the curriculum asks for a "
        "harder variant when greedy solves it (the recipe's math rule) instead of when every sample does",
    )


class EvalConfig(Section):
    benches: list[Literal["humaneval", "humaneval+", "mbpp", "mbpp+", "gsm8k", "math500"]] = Field(
        default_factory=lambda: ["humaneval", "humaneval+"]
    )
    limit: Optional[int] = Field(None, ge=1, description="first N tasks per benchmark (a labelled subset)")
    format: Literal["raw", "chat"] = "raw"
    n: int = Field(1, ge=1)
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(384, ge=16)
    chat_arms: list[str] = Field(
        default_factory=list,
        description="`selfmine run`: arms evaluated a second time through the chat template (base, adapter, "
        "control-<name>), written as eval/<arm>@chat.json and compared with base@chat",
    )


class PipelineConfig(Section):
    controls: list[Literal["corrupted", "shuffled", "rft", "format", "overcorrect"]] = Field(
        default_factory=lambda: ["corrupted"]
    )
    min_pairs: int = Field(4, ge=1, description="fewer mined pairs than this: supplement (if allowed) or skip training")
    supplement_pairs: Optional[str] = Field(
        None,
        description="reference-schema pairs file used when mining yields "
        "fewer than min_pairs; always labelled as such in the report",
    )
    carry_pairs: list[str] = Field(
        default_factory=list,
        description="expert iteration: pair files in the reference schema (an earlier iteration's `selfmine pairs "
        "export --format tinyforge`), imported before the first training, re-judged and labelled: every adapter "
        "and control of this run trains on the union of those pairs and the ones it mined",
    )
    reuse_base: dict[Literal["base", "base@chat"], str] = Field(
        default_factory=dict,
        description="a greedy base evaluation does not depend on the run's seed: take arm base (or base@chat) "
        "from another run's result JSON made with the same evaluation settings on the same kind of machine, "
        "checked and labelled, instead of generating it again",
    )


class StudyConfig(Section):
    """`selfmine study`: fine-tuning vs best-of-n sampling over pair counts, seeds and prompt formats."""

    pair_counts: list[int] = Field(default_factory=lambda: [0, 8, 16], description="nested subsets; 0 is the base")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    n: int = Field(4, ge=2, description="samples per task for best-of-n")
    temperature: float = Field(0.8, gt=0)
    formats: list[Literal["raw", "chat"]] = Field(default_factory=lambda: ["raw"], min_length=1)
    pairs_file: Optional[str] = Field(None, description="train on this reference-schema file instead of mining")
    resamples: int = Field(2000, ge=100, description="bootstrap resamples for the interaction's interval")
    reuse_base: dict[Literal["raw", "chat"], str] = Field(
        default_factory=dict,
        description="per format, a greedy base evaluation from another run's result JSON (e.g. the lift's "
        "base.json) made with the same evaluation settings on the same kind of machine, checked and labelled, "
        "instead of generating it again; one greedy base evaluation serves every seed either way",
    )


class ScaleConfig(Section):
    ray_address: Optional[str] = Field(
        None,
        description="judge and generate on a Ray cluster: auto (the running cluster), ray://HOST:PORT, or local (start one "
        "here); null keeps everything on this machine",
    )
    generation: Literal["ray", "local"] = Field(
        "ray",
        description="with ray_address: ray = one engine actor per GPU (per CPU-only node for hf), "
        "prompts sharded across them; local = generate in this process, judge on the cluster",
    )
    arm_cpus: Optional[int] = Field(
        None,
        ge=1,
        description="study arms as Ray tasks: CPUs each arm reserves on a cluster without GPUs "
        "(default: a whole node's); with GPUs each arm takes one GPU",
    )
    engines_per_node: Optional[int] = Field(
        None,
        ge=1,
        description="engine actors per node (default: one per tensor_parallel_size GPUs; one on a node without GPUs)",
    )


class RunConfig(Section):
    seed: int = 0
    domain: Literal["code", "math"] = Field("code", description="what the model writes and is judged on")
    data_dir: Optional[str] = None
    engine: EngineConfig = EngineConfig()
    mine: MineConfig = MineConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    pipeline: PipelineConfig = PipelineConfig()
    study: StudyConfig = StudyConfig()
    scale: ScaleConfig = ScaleConfig()


def flatten(d: dict, prefix: str = "") -> dict:
    """{"train.rank": 16, ...}: nested sections as dotted keys."""
    out = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def first_difference(old: dict, new: dict) -> tuple[str, object, object] | None:
    """(key, old value, new value) of the first dotted key whose value changed, or None."""
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return key, old.get(key), new.get(key)
    return None


def validation_message(e: ValidationError) -> str:
    err = e.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    value = err.get("input")
    more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    return f"config key {key!r} = {value!r}: {err['msg']}{more}"


def _coerce(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. mine.attempts=8)")
        key, value = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
        node[parts[-1]] = _coerce(value)
    return data


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None, base: dict | None = None
) -> RunConfig:
    data: dict = dict(base or {})
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {p} is not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping of sections")
        data = _merge(data, loaded)
    data = apply_overrides(data, overrides or [])
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(validation_message(e)) from None


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
