import pytest

from kgents_assets.flux import FluxState, IllegalTransition
from kgents_assets.flux.states import LEGAL_TRANSITIONS, check_transition


def test_every_state_has_a_transition_table() -> None:
    assert set(LEGAL_TRANSITIONS) == set(FluxState)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (FluxState.DORMANT, FluxState.FLOWING),
        (FluxState.FLOWING, FluxState.PERTURBED),
        (FluxState.PERTURBED, FluxState.FLOWING),
        (FluxState.FLOWING, FluxState.DRAINING),
        (FluxState.DRAINING, FluxState.STOPPED),
        (FluxState.STOPPED, FluxState.FLOWING),
        (FluxState.PERTURBED, FluxState.COLLAPSED),
        (FluxState.COLLAPSED, FluxState.DORMANT),
    ],
)
def test_legal(current: FluxState, target: FluxState) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (FluxState.DORMANT, FluxState.PERTURBED),
        (FluxState.STOPPED, FluxState.PERTURBED),
        (FluxState.COLLAPSED, FluxState.FLOWING),
        (FluxState.DRAINING, FluxState.FLOWING),
        (FluxState.FLOWING, FluxState.DORMANT),
    ],
)
def test_illegal(current: FluxState, target: FluxState) -> None:
    with pytest.raises(IllegalTransition, match=f"{current} -> {target}"):
        check_transition(current, target)
