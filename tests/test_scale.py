import pytest

from benchmark.errors import BenchError
from benchmark.scale import Scale


@pytest.mark.parametrize(("text", "factors"), [("2x2x2", (2, 2, 2)), ("2x2x1", (2, 2, 1)), (" 3×2×1 ", (3, 2, 1))])
def test_parse_valid(text, factors):
    assert Scale.parse(text).factors == factors


@pytest.mark.parametrize("text", ["2x2", "0x2x2", "1.5x2x2", "axbxc", "2x2x2x2", "-2x2x2", ""])
def test_parse_invalid_is_one_sentence(text):
    with pytest.raises(BenchError) as info:
        Scale.parse(text)
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message


def test_shapes():
    scale = Scale(2, 2, 1)
    assert scale.crop_to_multiple((197, 233, 189)) == (196, 232, 189)
    assert scale.lr_shape((196, 232, 189)) == (98, 116, 189)
    assert str(scale) == "2x2x1"
