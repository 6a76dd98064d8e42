"""registry.Registry: the one name -> plug-in table behind metrics, flows, stages, face and depth backends."""
import pytest

from errors import UserError
from registry import Registry


def test_register_get_and_order():
    reg = Registry("widget")

    @reg.register("b", size=2)
    class B:
        pass

    @reg.register("a")
    def a():
        return 1

    assert list(reg) == ["b", "a"] and len(reg) == 2
    assert reg.get("b") is B and B.name == "b" and B.size == 2
    assert reg["a"]() == 1


def test_unknown_name_is_one_user_error_naming_the_choices():
    reg = Registry("widget")
    reg.register("one")(type("One", (), {}))
    with pytest.raises(UserError, match=r"^unknown widget 'two'; choose one of: one$"):
        reg.get("two")
    assert str(reg.unknown("two", ["auto", "one"])) == "unknown widget 'two'; choose one of: auto, one"


def test_a_second_class_under_one_name_is_refused_but_a_reimport_is_not():
    reg = Registry("widget")
    first = reg.register("x")(type("X", (), {}))
    reimported = type("X", (), {})  # same qualified name: the module was imported again
    assert reg.register("x")(reimported) is reimported and reg["x"] is reimported and reg["x"] is not first
    with pytest.raises(ValueError, match="widget 'x' is already registered by X"):
        reg.register("x")(type("Other", (), {}))


def test_copy_is_independent():
    reg = Registry("widget")
    reg.register("x")(type("X", (), {}))
    other = reg.copy()
    other.register("y")(type("Y", (), {}))
    assert list(reg) == ["x"] and list(other) == ["x", "y"]
