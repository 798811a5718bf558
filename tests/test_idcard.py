import pytest

from caseflow.idcard import NOT_A_NUMBER, WRONG_CHECK, check_digit, checksum_ok, problem


def test_checksum():
    assert checksum_ok("11010519491231002X")  # GB 11643's own example
    assert checksum_ok("11010519491231002x")
    assert not checksum_ok("110105194912310021")
    assert not checksum_ok("1101051949123100")
    assert not checksum_ok("11010519491231002X ")
    assert not checksum_ok("A1010519491231002X")
    assert not checksum_ok("")
    assert not checksum_ok(None)  # type: ignore[arg-type]
    assert check_digit("11010519491231002") == "X"
    with pytest.raises(ValueError):
        check_digit("123")


@pytest.mark.parametrize(("number", "expected"), [
    ("11010519491231002X", None),
    ("110105491231002", None),  # first generation: 15 digits, no check character
    ("110105194912310021", WRONG_CHECK),
    ("11010519491231012X", WRONG_CHECK),  # one digit mistyped
    ("11010519491231002", NOT_A_NUMBER),
    ("1101051949123100XX", NOT_A_NUMBER),
    ("abc", NOT_A_NUMBER),
])
def test_problem(number, expected):
    assert problem(number) == expected


def test_every_single_digit_typo_is_caught():
    good = "11010519491231002X"
    for i in range(17):
        for d in "0123456789":
            if d != good[i]:
                assert problem(good[:i] + d + good[i + 1:]) == WRONG_CHECK
