"""The reckoning: one answer per request, every other case named."""

from demo.reckoning import reckon


def test_every_request_answered_once_is_exact() -> None:
    reckoning = reckon(["a", "b", "c"], predictions=["a", "c"], dead_letters=["b"])
    assert (reckoning.sent, reckoning.predicted, reckoning.dead_lettered) == (3, 2, 1)
    assert reckoning.exact


def test_lost_duplicated_and_unexpected_answers_are_each_named() -> None:
    reckoning = reckon(
        ["a", "b", "c", "d", "e"],
        predictions=["a", "a", "c", "x"],
        dead_letters=["c", "d", "d"],
    )
    assert reckoning.lost == ("b", "e")
    assert reckoning.duplicated == ("a", "c", "d")
    assert reckoning.unexpected == ("x",)
    assert (reckoning.predicted, reckoning.dead_lettered) == (0, 0)
    assert not reckoning.exact
