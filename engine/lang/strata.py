"""What rules read, and the order they run in: strata over the flags rules assert and read, and the parameters an
expression reads (through lets and computed values)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from . import expr as X


def stratify(rules: List[dict], producers: Dict[Tuple[str, str], List[str]]) -> Tuple[Dict[str, int], Optional[List[str]]]:
    """Strata for rules: each after every producer of a flag it reads. Returns (strata, cycle or None)."""
    by_id = {r["id"]: r for r in rules}
    strata: Dict[str, int] = {}
    visiting: List[str] = []

    def visit(rid: str) -> Optional[List[str]]:
        if rid in strata:
            return None
        if rid in visiting:
            return visiting[visiting.index(rid):] + [rid]
        visiting.append(rid)
        level = 0
        for flag in sorted(by_id[rid]["reads"]):
            for producer in producers.get(flag, ()):
                cycle = visit(producer)
                if cycle:
                    return cycle
                level = max(level, strata[producer] + 1)
        visiting.pop()
        strata[rid] = level
        return None

    for r in rules:
        cycle = visit(r["id"])
        if cycle:
            return strata, cycle
    return strata, None


def parameters_read(ast: X.Node, computed_asts: Dict[Tuple[str, str], X.Node], lets: Dict[str, X.Node]) -> set:
    """The names of the parameters an expression reads, through the computed values and lets it uses."""
    found: set = set()
    seen: set = set()
    todo = [ast]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for n in X.walk(node):
            if isinstance(n, X.Call) and n.func == "param" and n.args and isinstance(n.args[0], X.Literal):
                found.add(n.args[0].value)
            elif isinstance(n, X.Name):
                if n.parts[0] in lets:
                    todo.append(lets[n.parts[0]])
                todo.extend(a for (kind, name), a in computed_asts.items() if name == n.parts[-1])
    return found
