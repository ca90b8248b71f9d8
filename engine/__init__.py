"""A declarative rules engine for subsidy policies written as YAML.

The public API::

    policy = load_policy("policies/<province>.yaml")   # InvalidInput on any problem
    facts = load_facts("facts.yaml", policy)           # InvalidInput on any problem
    run = evaluate(policy, facts, why_not=True)             # decisions with traces, totals
    document = to_json(run)                                 # the decisions document

Nothing in this package knows any particular policy: clauses, amounts,
thresholds, dates, labels and funds all come from the policy file.
"""
from .runtime.decisions import Decision, Totals, decision_id
from .runtime.evaluate import Evaluation, evaluate, iter_workshops
from .facts.reading import Facts, load_facts
from .policy.loader import check_policy, load_policy
from .policy.model import Policy
from .problems import EngineFault, InputFault, InvalidInput, LedgerFault, Location, Problem, SubsidyError
from .views.explain import explain_text, trace_lines
from .views.problems_text import problem_lines
from .views.document import to_json
from .views.text import to_text

__version__ = "0.2.0"  # 0.2: trace data gives the values read, not texts; the dictionary says what values mean

__all__ = [
    "Decision", "EngineFault", "Evaluation", "Facts", "InputFault", "InvalidInput", "LedgerFault", "Location", "Policy",
    "Problem", "SubsidyError", "Totals",
    "check_policy", "decision_id", "evaluate", "explain_text", "iter_workshops", "load_facts", "load_policy",
    "problem_lines", "to_json", "to_text", "trace_lines", "__version__",
]
