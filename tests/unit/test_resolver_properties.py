"""Properties of the resolver on generated catalogs (hypothesis).

- With a planted solution (one version per module whose dependencies all point at the planted
  versions of later modules), a solution is always found.
- Every solution satisfies every constraint of every chosen version, lists dependencies before
  their dependents, and contains each module once.
- An unsatisfiable request always yields an explanation that names a module.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adx_modules.catalog.resolver.engine import resolve
from adx_modules.catalog.resolver.model import (
    Candidate,
    Catalog,
    Plan,
    Requirement,
    ResolutionError,
    candidate,
)

VERSIONS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 9), st.integers(0, 9)),
    min_size=1,
    max_size=6,
    unique=True,
)


def _text(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def _around(version: tuple[int, int, int], style: int) -> str:
    """A constraint that the planted ``version`` satisfies."""
    major, minor, patch = version
    return [
        f"=={_text(version)}",
        f"^{major}.{minor}" if major else f">={major}.{minor}.{patch}, <{major + 1}",
        f">={_text(version)}",
        f"~{major}.{minor}",
        "*",
    ][style % 5]


@st.composite
def planted(draw: st.DrawFn) -> tuple[Catalog, dict[str, str]]:
    size = draw(st.integers(2, 12))
    names = [f"m{i}" for i in range(size)]
    chosen: dict[str, str] = {}
    entries: list[Candidate] = []
    versions = {name: [_text(v) for v in draw(VERSIONS)] for name in names}
    for name in names:
        chosen[name] = draw(st.sampled_from(versions[name]))
    for index, name in enumerate(names):
        later = names[index + 1 :]
        for text in versions[name]:
            deps = draw(st.lists(st.sampled_from(later), unique=True, max_size=3)) if later else []
            if text == chosen[name]:
                constraints = {
                    d: _around(tuple(int(p) for p in chosen[d].split(".")), draw(st.integers(0, 4)))  # type: ignore[arg-type]
                    for d in deps
                }
            else:  # decoys: arbitrary constraints, maybe impossible
                constraints = {
                    d: draw(st.sampled_from(["*", ">=3", "<1", "^2.0", "==9.9.9"])) for d in deps
                }
            entries.append(candidate(name, text, constraints))
    return Catalog.of(entries), chosen


def _check(plan: Plan, catalog: Catalog) -> None:
    position = {pin.module_id: i for i, pin in enumerate(plan.order)}
    assert len(position) == len(plan.order), "a module appears twice"
    by_key = {(c.module_id, c.text): c for versions in catalog.modules.values() for c in versions}
    for pin in plan.order:
        chosen = by_key[(pin.module_id, pin.version)]
        for dependency in chosen.dependencies:
            if dependency.optional and dependency.module_id not in position:
                continue
            assert dependency.module_id in position, f"{chosen} needs {dependency}"
            dep_pin = plan.order[position[dependency.module_id]]
            assert dependency.constraint.allows(
                by_key[(dep_pin.module_id, dep_pin.version)].version
            )
            assert position[dependency.module_id] < position[pin.module_id], "installed too late"


@settings(max_examples=60, deadline=None)
@given(planted())
def test_a_planted_solution_is_always_found_and_solutions_satisfy_everything(
    case: tuple[Catalog, dict[str, str]],
) -> None:
    catalog, chosen = case
    plan = resolve(catalog, Requirement.parse("m0", f"=={chosen['m0']}"))
    _check(plan, catalog)
    assert plan.order[-1].module_id == "m0"


@settings(max_examples=60, deadline=None)
@given(planted())
def test_any_solution_found_satisfies_every_constraint(
    case: tuple[Catalog, dict[str, str]],
) -> None:
    catalog, _ = case
    try:
        plan = resolve(catalog, Requirement.parse("m0"))
    except ResolutionError as error:
        message = str(error)
    else:
        _check(plan, catalog)
        return
    assert message, "a failure without an explanation"


@settings(max_examples=50, deadline=None)
@given(planted(), st.integers(0, 2))
def test_an_unsatisfiable_request_is_explained(
    case: tuple[Catalog, dict[str, str]], how: int
) -> None:
    catalog, _ = case
    if how == 0:  # a version that does not exist
        request = Requirement.parse("m0", "==99.0.0")
    elif how == 1:  # a module that does not exist
        request = Requirement.parse("ghost")
    else:  # a root that needs two incompatible versions of the same module
        catalog = Catalog.of(
            [
                *[c for versions in catalog.modules.values() for c in versions],
                candidate("root", "1.0.0", {"m0": "*", "left": "*"}),
                candidate("left", "1.0.0", {"m0": "==77.0.0"}),
            ]
        )
        request = Requirement.parse("root")
    try:
        resolve(catalog, request)
    except ResolutionError as error:
        message = str(error)
        assert "m0" in message or "ghost" in message, message
    else:
        raise AssertionError("an unsatisfiable request was resolved")
