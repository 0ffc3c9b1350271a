#!/usr/bin/env python3
"""Fails when a crate's modules import each other in a circle of more than two.

Reads the module graph that `cargo modules dependencies --no-fns --no-types --no-traits
--no-owns ...` prints (DOT, "uses" edges between modules) on stdin. Two modules that use each
other are allowed (a type and its store, say); a circle through three or more is not. The
graph of a crate has a few dozen modules, so a depth-first search over simple paths is cheap.
cargo-modules' own `--acyclic` judges the item graph (a type and its methods already make a
circle there), which is why the modules are checked here.
"""

import re
import sys


def edges(dot):
    graph = {}
    pattern = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')
    for line in dot.splitlines():
        m = pattern.match(line)
        if m and m.group(1) != m.group(2):
            graph.setdefault(m.group(1), set()).add(m.group(2))
            graph.setdefault(m.group(2), set())
    return graph


def long_circle(graph):
    """A simple circle of three or more modules, or None."""
    order = sorted(graph)
    rank = {node: i for i, node in enumerate(order)}
    for start in order:
        # Only circles whose smallest node is `start`, so each is found once.
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        on_path = {start}
        while stack:
            node, successors = stack[-1]
            step = next(successors, None)
            if step is None:
                stack.pop()
                on_path.discard(path.pop())
                continue
            if step == start and len(path) > 2:
                return path + [start]
            if step in on_path or rank[step] < rank[start]:
                continue
            path.append(step)
            on_path.add(step)
            stack.append((step, iter(sorted(graph[step]))))
    return None


def main():
    crate = sys.argv[1] if len(sys.argv) > 1 else "crate"
    graph = edges(sys.stdin.read())
    if not graph:
        print(f"{crate}: no module graph read", file=sys.stderr)
        return 1
    circle = long_circle(graph)
    if circle:
        print(f"{crate}: modules import each other in a circle: {' -> '.join(circle)}", file=sys.stderr)
        return 1
    print(f"{crate}: no import circle of more than two modules ({len(graph)} modules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
