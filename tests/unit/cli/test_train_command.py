"""``hardpos train``: an iteration count that is not a count is refused in one line."""

from __future__ import annotations

import pytest

from hardpos.cli import main


@pytest.mark.parametrize("value", ["-5", "0", "ten"])
def test_train_refuses_an_iteration_count_that_is_not_a_count(value, capsys, tmp_path):
    with pytest.raises(SystemExit) as caught:
        main(["train", "--mnist-dir", str(tmp_path), "--iterations", value,
              "--out", str(tmp_path / "n.pt")])  # fmt: skip
    assert caught.value.code == 2
    assert "--iterations" in capsys.readouterr().err
