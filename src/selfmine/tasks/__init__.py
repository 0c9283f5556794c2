"""What is domain-specific: prompts, parsing and judging of one domain. `code` now; `math` is a new module."""
