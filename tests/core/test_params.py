import pytest

from bgapp.core.errors import ParamError
from bgapp.core.params import Param, parse_assignments, resolve

KERNEL = Param("blur", "int", 5, min=1, max=31, step=2, odd=True, help="h")
MODE = Param("mode", "choice", "otsu", choices=("otsu", "binary"), help="h")
FLAG = Param("fill", "bool", False, help="h")
LEVEL = Param("level", "float", 0.5, min=0.0, max=1.0, help="h")


def test_values_are_coerced_from_strings():
    assert KERNEL.coerce("7") == 7
    assert MODE.coerce("BINARY") == "binary"
    assert FLAG.coerce("yes") is True and FLAG.coerce("off") is False
    assert LEVEL.coerce("0.25") == pytest.approx(0.25)


@pytest.mark.parametrize(
    "param,value,words",
    [
        (KERNEL, "4", "must be odd"),
        (KERNEL, "33", "out of range"),
        (KERNEL, "2.5", "not valid"),
        (MODE, "median", "otsu | binary"),
        (FLAG, "maybe", "true | false"),
        (LEVEL, "abc", "0..1"),
    ],
)
def test_bad_values_name_the_allowed_ones(param, value, words):
    with pytest.raises(ParamError, match=words.replace("|", r"\|").replace(".", r"\.")):
        param.coerce(value)


def test_resolve_fills_defaults_and_rejects_unknown_names():
    assert resolve([KERNEL, MODE], {"blur": "3"}, "m") == {"blur": 3, "mode": "otsu"}
    with pytest.raises(ParamError, match="no parameter 'blurr': allowed blur, mode"):
        resolve([KERNEL, MODE], {"blurr": 3}, "m")


def test_parse_assignments():
    assert parse_assignments(["a=1", "close-size = 5"]) == {"a": "1", "close_size": "5"}
    with pytest.raises(ParamError, match="key=value"):
        parse_assignments(["oops"])


def test_bad_declaration_fails_at_import_time():
    with pytest.raises(ValueError):
        Param("x", "choice", "c", choices=("a", "b"), help="h")
