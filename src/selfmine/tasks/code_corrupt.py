"""The code domain's training controls: a stub with the right shape (the format control) and mechanical
one-edit corruptions of a fixed program (the corrupted-pairs control). CodeDomain.corruptor keeps the
first corruption the judge shows failing; train/ reaches them only through the domain."""

from __future__ import annotations

import ast
import random

from .code_text import HOSTILE


def format_stub(header: str) -> str:
    """The right output shape and nothing else: the function's signature with a stub body."""
    sig = header.split('"""')[0].rstrip() if '"""' in header else header
    return f"{sig.rstrip()}\n    return None\n" if sig.rstrip().endswith(":") else f"{header}\n    return None\n"


# -- mechanical corruption ----------------------------------------------------------------------------
_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.Lt: ast.GtE,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.GtE: ast.Lt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.And: ast.Or,
    ast.Or: ast.And,
}


class _Mutate(ast.NodeTransformer):
    def __init__(self, rng: random.Random, which: int):
        self.rng, self.which, self.seen = rng, which, 0

    def _maybe(self) -> bool:
        hit = self.seen == self.which
        self.seen += 1
        return hit

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if type(node.op) in _SWAP and self._maybe():
            node.op = _SWAP[type(node.op)]()
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if type(node.ops[0]) in _SWAP and self._maybe():
            node.ops[0] = _SWAP[type(node.ops[0])]()
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, int) and not isinstance(node.value, bool) and self._maybe():
            return ast.Constant(node.value + 1)
        return node

    def visit_Return(self, node):
        self.generic_visit(node)
        if node.value is not None and self._maybe():
            return ast.Return(ast.Constant(None))
        return node


def corruptions(code: str, seed: int = 0, limit: int = 12) -> list[str]:
    """Candidate corrupted versions of `code` (each one mechanical edit); the caller keeps one that fails."""
    try:
        tree = ast.parse(code)
        original = ast.unparse(tree)
        out = []
        for which in range(limit):
            text = ast.unparse(_Mutate(random.Random(seed), which).visit(ast.parse(code)))
            if text != original and text not in out:
                out.append(text)
        return out
    except HOSTILE:  # model-written code too deep to walk: no corruption rather than a crash
        return []
