from widgets.spark import BLOCKS, spark_text


def test_spark_scales_between_min_and_max() -> None:
    assert spark_text([0, 50, 100], 3) == BLOCKS[0] + BLOCKS[4] + BLOCKS[-1]


def test_spark_keeps_the_last_values_and_handles_flat_and_empty() -> None:
    assert spark_text([9, 1, 2], 2) == BLOCKS[0] + BLOCKS[-1]
    assert spark_text([5, 5, 5], 10) == BLOCKS[0] * 3
    assert spark_text([], 5) == ""
    assert spark_text([1, 2], 0) == ""
