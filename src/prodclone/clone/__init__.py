"""The clone pipeline: prod RDS -> snapshot -> throwaway instance -> tunnel -> pg_dump.

`preflight` checks everything and returns the plan (`render_plan` shows it);
`run_clone` carries it out, removing every cloud resource it created whatever
happens, and printing what could not be removed with the command that removes it.
"""

from prodclone.clone.faults import STEPS
from prodclone.clone.pipeline import run_clone
from prodclone.clone.plan import CloneOptions, ClonePlan, preflight, render_plan

__all__ = ["STEPS", "CloneOptions", "ClonePlan", "preflight", "render_plan", "run_clone"]
