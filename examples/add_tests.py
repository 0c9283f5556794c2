assert add(1, 2) == 3
assert add(-1, 1) == 0
assert add(2.5, 0.5) == 3.0
