from broker.domain.login_flow import TRANSITIONS, FlowState, sources_of


def test_finished_flows_never_move_again() -> None:
    assert TRANSITIONS[FlowState.COMPLETED] == frozenset()
    assert TRANSITIONS[FlowState.FAILED] == frozenset()


def test_a_code_is_issued_only_from_an_authenticated_flow() -> None:
    assert sources_of(FlowState.COMPLETED) == {FlowState.AUTHENTICATED}


def test_authentication_follows_a_start_a_pending_upstream_or_a_choice() -> None:
    assert sources_of(FlowState.AUTHENTICATED) == {
        FlowState.STARTED,
        FlowState.UPSTREAM_PENDING,
        FlowState.CHOOSING,
    }


def test_choosing_is_entered_only_from_a_vneid_callback() -> None:
    assert sources_of(FlowState.CHOOSING) == {FlowState.UPSTREAM_PENDING}
