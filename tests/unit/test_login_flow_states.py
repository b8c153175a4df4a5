from broker.domain.login_flow import TRANSITIONS, FlowState, sources_of


def test_finished_flows_never_move_again() -> None:
    assert TRANSITIONS[FlowState.COMPLETED] == frozenset()
    assert TRANSITIONS[FlowState.FAILED] == frozenset()


def test_a_code_is_issued_only_from_an_authenticated_flow() -> None:
    assert sources_of(FlowState.COMPLETED) == {FlowState.AUTHENTICATED}


def test_authentication_only_follows_a_pending_upstream_or_a_start() -> None:
    assert sources_of(FlowState.AUTHENTICATED) == {FlowState.STARTED, FlowState.UPSTREAM_PENDING}
