from streams.gaps import missing_range


def test_missing_range():
    assert list(missing_range(41, 45)) == [42, 43, 44]
    assert not missing_range(41, 42)
    assert not missing_range(41, 30)  # read again after a rewind: not a gap
    assert list(missing_range(None, 3)) == [0, 1, 2]
    assert not missing_range(None, 0)
